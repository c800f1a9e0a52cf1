"""What every app's API shares: owner scoping, presets, model validation as 400s, and the limits
on what a request may be (body size, fields it may name; JSON depth: lbsite.parsers)."""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import ProtectedError, RestrictedError
from rest_framework import permissions, renderers, status, viewsets
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.views import exception_handler as drf_exception_handler

from lbsite.permissions import OwnedQuerysetMixin


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The object is in use."
    default_code = "conflict"


class TooManyRequests(APIException):
    """A limit on how much one user may have going at once (429), with what it is and what to do."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = "Too many requests."
    default_code = "too_many"


class TooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


def exception_handler(exc, context):
    """Model and service validation (Django's ValidationError) answers 400 with field errors; deleting
    what history still points at (a target with runs: on_delete=PROTECT) answers 409; a body past
    DATA_UPLOAD_MAX_MEMORY_SIZE (one without a Content-Length the middleware could judge) 413."""
    if isinstance(exc, RequestDataTooBig):
        exc = TooLarge(f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.")
    elif isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = ValidationError(detail)
    elif isinstance(exc, ProtectedError | RestrictedError):
        referring = getattr(exc, "protected_objects", None) or getattr(exc, "restricted_objects", ())
        kept = {str(obj._meta.verbose_name_plural) for obj in referring if hasattr(obj, "_meta")}
        exc = Conflict(f"It is kept while {' and '.join(sorted(kept)) or 'other objects'} refer to it.")
    return drf_exception_handler(exc, context)


class CSVRenderer(renderers.BaseRenderer):
    """`?format=csv` for views that answer CSV themselves (a streamed file); their error answers
    (a 404, a 400) are rendered as JSON text."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, str | bytes):
            return data
        return renderers.JSONRenderer().render(data)


# Sent by DRF's browsable API forms with every field: not a field of the object.
_FORM_FIELDS = frozenset({"csrfmiddlewaretoken"})


class FullCleanSerializerMixin:
    """Run the model's own `full_clean` so the API and the admin reject the same things, and refuse a
    field the object does not have by name (a typo such as `user` for `users` is never ignored).

    Called from `validate` on an unsaved copy, so nothing is written when anything is wrong.
    """

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields) - _FORM_FIELDS)
            if unknown:
                raise ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        model = self.Meta.model
        instance = model(**{**self._current_values(), **attrs})
        if self.instance is not None:
            instance.pk = self.instance.pk
            instance._state.adding = False  # an update: uniqueness checks must not count the row itself
            instance._state.db = self.instance._state.db
        owner = self.context["request"].user if "owner" in {f.name for f in model._meta.fields} else None
        if owner is not None and getattr(instance, "owner_id", None) is None:
            instance.owner = owner
        try:
            instance.full_clean(validate_unique=True)
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from error
        self.validate_instance(instance)
        # clean() may normalise values (e.g. a URL's trailing slash): keep what it settled on.
        return {key: getattr(instance, key) for key in attrs}

    def validate_instance(self, instance) -> None:
        """Further checks on the cleaned instance (e.g. the allow-list); raise Django ValidationError."""

    def _current_values(self) -> dict:
        if self.instance is None:
            return {}
        return {
            f.attname: getattr(self.instance, f.attname)
            for f in self.instance._meta.concrete_fields
            if not f.primary_key
        }


class OwnedModelViewSet(OwnedQuerysetMixin, viewsets.ModelViewSet):
    """CRUD on the user's own objects; others' are 404."""

    permission_classes = [permissions.IsAuthenticated]

    @transaction.atomic
    def perform_create(self, serializer):
        serializer.save(owner=self.request.user)


class PresetOrOwnedModelViewSet(OwnedModelViewSet):
    """Shared presets (owner empty) are readable by everyone, changeable only in the admin."""

    def get_queryset(self):
        self.shared_presets = self.request.method in permissions.SAFE_METHODS
        return super().get_queryset()
