"""The API's own authentication endpoints: issue a token for a username and password, list your
tokens, revoke one."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from lbsite.login_limits import forget_failures
from lbsite.models import ApiToken
from lbsite.parsers import JSONParser
from lbsite.permissions import OwnedQuerysetMixin


class TokenRequestSerializer(AuthTokenSerializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=100, default="",
                                 help_text="What the token is for (the CI job), to tell your tokens apart.")


class IssuedTokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="The key: shown this once; send it as `Authorization: Token <key>`.")
    id = serializers.IntegerField()
    name = serializers.CharField()


class TokenView(APIView):
    """`POST /api/auth/token/` {"username", "password", "name"?} -> {"token", "id", "name"}: a new token
    each time (list and revoke them at /api/auth/tokens/). Failed attempts are limited per username and
    per address (lbsite.login_limits); JSON is parsed as the rest of the API does (a body nested too
    deep is a 400, not a crash, here where no login is needed)."""

    permission_classes = ()
    throttle_classes = ()
    parser_classes = (FormParser, MultiPartParser, JSONParser)
    serializer_class = TokenRequestSerializer

    @extend_schema(request=TokenRequestSerializer, responses={200: IssuedTokenSerializer}, auth=[])
    def post(self, request, *args, **kwargs):
        given = TokenRequestSerializer(data=request.data, context={"request": request})
        given.is_valid(raise_exception=True)
        user = given.validated_data["user"]
        forget_failures(sender=type(self), request=request, user=user)  # as a login through the pages does
        token, key = ApiToken.issue(owner=user, name=given.validated_data["name"])
        return Response({"token": key, "id": token.pk, "name": token.name}, status=status.HTTP_200_OK)


class ApiTokenSerializer(serializers.ModelSerializer):
    current = serializers.SerializerMethodField(help_text="Whether this request was made with it.")

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "current"]
        read_only_fields = fields

    def get_current(self, token: ApiToken) -> bool:
        request = self.context.get("request")
        return request is not None and getattr(request.auth, "pk", None) == token.pk


class ApiTokenViewSet(OwnedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                      mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Your API tokens (never their keys: only a digest is kept); DELETE revokes one at once."""

    queryset = ApiToken.objects.all()
    serializer_class = ApiTokenSerializer
    filter_backends = []
