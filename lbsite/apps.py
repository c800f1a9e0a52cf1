from django.apps import AppConfig


class LbsiteConfig(AppConfig):
    """The site itself as an app: site-wide templates and commands (ensure_admin)."""

    name = "lbsite"
    verbose_name = "LB Lab"

    def ready(self):
        from lbsite import login_limits

        login_limits.connect()
