from django.urls import path

from tests_app import views

urlpatterns = [
    path("", views.RunListView.as_view(), name="runs"),
    path("runs/new/", views.RunCreateView.as_view(), name="run-new"),
    path("runs/compare/", views.RunCompareView.as_view(), name="run-compare"),
    path("runs/<int:pk>/", views.RunDetailView.as_view(), name="run-detail"),
    path("runs/<int:pk>/report/", views.RunReportView.as_view(), name="run-report"),
    path("runs/<int:pk>/export/<str:name>", views.RunExportView.as_view(), name="run-export"),
    path("runs/<int:pk>/results/", views.RunResultsView.as_view(), name="run-results"),
    path("runs/<int:pk>/stop/", views.RunStopView.as_view(), name="run-stop"),
    path("runs/<int:pk>/again/", views.RunAgainView.as_view(), name="run-again"),
    path("targets/", views.TargetListView.as_view(), name="targets"),
    path("targets/new/", views.TargetCreateView.as_view(), name="target-new"),
    path("targets/<int:pk>/", views.TargetEditView.as_view(), name="target-edit"),
    path("targets/<int:pk>/delete/", views.TargetDeleteView.as_view(), name="target-delete"),
    path("metrics", views.prometheus_metrics, name="metrics"),
]
