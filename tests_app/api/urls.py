from rest_framework.routers import DefaultRouter

from tests_app.api import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("targets", views.TargetViewSet, basename="target")
router.register("scenarios", views.ScenarioViewSet, basename="scenario")
router.register("runs", views.LoadTestRunViewSet, basename="run")
router.register("locustfiles", views.LocustfileViewSet, basename="locustfile")

urlpatterns = router.urls
