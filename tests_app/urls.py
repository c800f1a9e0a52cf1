from django.urls import path

from tests_app import views

urlpatterns = [
    path("", views.RunListView.as_view(), name="runs"),
    path("runs/<int:pk>/", views.RunDetailView.as_view(), name="run-detail"),
    path("targets/", views.TargetListView.as_view(), name="targets"),
    path("targets/new/", views.TargetCreateView.as_view(), name="target-new"),
]
