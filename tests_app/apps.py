from django.apps import AppConfig


class TestsAppConfig(AppConfig):
    name = "tests_app"
    verbose_name = "Load tests"

    def ready(self) -> None:
        from lbsite.prometheus import register_once
        from tests_app.prometheus import DatabaseCollector

        register_once(DatabaseCollector())
