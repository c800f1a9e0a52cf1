"""Create the admin account on first start; say how to log in either way."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from lbsite.db import NotMigrated, ensure_migrated


class Command(BaseCommand):
    help = "Create a superuser if none exists (password from DJANGO_SUPERUSER_PASSWORD, else generated)."

    def add_arguments(self, parser):
        parser.add_argument("--username", default=os.environ.get("DJANGO_SUPERUSER_USERNAME", "admin"))

    def handle(self, *args, username, **options):
        try:
            ensure_migrated()
        except NotMigrated as error:
            raise CommandError(str(error), returncode=2) from error
        User = get_user_model()
        existing = User.objects.filter(is_superuser=True).order_by("pk").first()
        if existing:
            self.stdout.write(f"Admin account: {existing.get_username()} (password unchanged)")
            return
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        if os.environ.get("DJANGO_SUPERUSER_PASSWORD"):
            self.stdout.write(f"Admin account created: {username} (password from DJANGO_SUPERUSER_PASSWORD)")
        else:
            # Printed once: it is not stored anywhere in clear.
            self.stdout.write(self.style.WARNING(f"Admin account created: {username} / {password}  (shown only now)"))
