from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from lbsite.auth_api import ApiTokenViewSet, TokenView
from lbsite.views import favicon, healthz

tokens = DefaultRouter(trailing_slash=True)
tokens.include_root_view = False
tokens.register("auth/tokens", ApiTokenViewSet, basename="api-token")

api_patterns = [
    path("auth/token/", TokenView.as_view(), name="token"),
    *tokens.urls,
    path("", include("tests_app.api.urls")),
    path("chaos/", include("chaos_app.api.urls")),
    path("", include("metrics_app.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file and the template its style: nothing inline
    # (Content-Security-Policy).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema", template_name="lbsite/swagger_ui.html"),
         name="docs"),
]

urlpatterns = [
    path("", include("tests_app.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", include((api_patterns, "api"))),
    path("favicon.ico", favicon, name="favicon"),
    path("healthz", healthz, name="healthz"),
]

admin.site.site_header = "LB Lab administration"
admin.site.site_title = "LB Lab"
