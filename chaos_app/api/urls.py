from rest_framework.routers import DefaultRouter

from chaos_app.api import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("experiments", views.ChaosExperimentViewSet, basename="chaos-experiment")

urlpatterns = router.urls
