"""What every app's API shares: owner scoping, presets, and model validation as 400s."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from rest_framework import permissions, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.views import exception_handler as drf_exception_handler

from lbsite.permissions import OwnedQuerysetMixin


def exception_handler(exc, context):
    """Model and service validation (Django's ValidationError) answers 400 with field errors."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = ValidationError(detail)
    return drf_exception_handler(exc, context)


class FullCleanSerializerMixin:
    """Run the model's own `full_clean` so the API and the admin reject the same things.

    Called from `validate` on an unsaved copy, so nothing is written when anything is wrong.
    """

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
