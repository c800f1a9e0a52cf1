from django.apps import AppConfig


class ChaosAppConfig(AppConfig):
    name = "chaos_app"
    verbose_name = "Chaos"
