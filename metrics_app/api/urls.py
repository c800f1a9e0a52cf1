from rest_framework.routers import DefaultRouter

from metrics_app.api import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("tuning-policies", views.TuningPolicyViewSet, basename="tuning-policy")

urlpatterns = router.urls
