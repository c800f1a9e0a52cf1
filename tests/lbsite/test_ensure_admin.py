from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command


@pytest.mark.django_db
def test_creates_admin_once_with_generated_password(monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    username, password = out.getvalue().split("Admin account created: ")[1].split("  (")[0].split(" / ")
    user = get_user_model().objects.get(username=username)
    assert user.is_superuser and user.check_password(password)

    again = StringIO()
    call_command("ensure_admin", stdout=again)
    assert "password unchanged" in again.getvalue()
    assert password not in again.getvalue()
    assert get_user_model().objects.filter(is_superuser=True).count() == 1


@pytest.mark.django_db
def test_password_from_environment(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "from-the-env-123")
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    assert "from-the-env-123" not in out.getvalue()
    assert get_user_model().objects.get(username="admin").check_password("from-the-env-123")
