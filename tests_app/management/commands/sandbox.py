"""`manage.py sandbox`: a sandbox cluster in the foreground until Ctrl-C.

The flags and their validation are clusters.sandbox.cli's, shared with
`python -m clusters.sandbox`; bad input exits 2 with one line naming the flag.
"""

from django.core.management.base import BaseCommand, CommandError

from clusters.base import ClusterError
from clusters.sandbox.cli import add_sandbox_arguments, config_from_options, flag_for
from clusters.sandbox.cluster import run_foreground


class Command(BaseCommand):
    help = "Run a sandbox cluster (real pod processes behind LB Lab's balancer) until Ctrl-C."
    requires_system_checks = []  # nothing here touches Django's apps or database

    def add_arguments(self, parser):
        add_sandbox_arguments(parser)

    def handle(self, *args, **options):
        try:
            config = config_from_options(options)
            run_foreground(config, echo=lambda line: self.stdout.write(line) or self.stdout.flush())
        except ClusterError as error:
            raise CommandError(f"{flag_for(error.field)}: {error.args[0]}", returncode=2) from error
