"""The one scoping rule: users see their own objects; anything else is a 404.

Views, API viewsets, selectors and consumers all go through `owned_by`, so the rule lives here
and nowhere else. Shared presets (owner is null) are readable by everyone where a model allows
them (`shared_presets=True`). Staff see every user's objects of the models that say so
(`staff_sees_all = True` on the model: runs, so the runs `loadtest` records and everyone's can
be reviewed); everyone else, staff included on the other models, sees only their own.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet


def sees_everyones(user, model) -> bool:
    """Whether `user` sees every user's objects of `model`, not only their own."""
    return bool(user.is_authenticated and user.is_staff and getattr(model, "staff_sees_all", False))


def owned_by(queryset: QuerySet, user, *, shared_presets: bool = False) -> QuerySet:
    if not user.is_authenticated:
        return queryset.none()
    if sees_everyones(user, queryset.model):
        return queryset
    mine = Q(owner=user)
    return queryset.filter(mine | Q(owner__isnull=True) if shared_presets else mine)


class OwnedQuerysetMixin:
    """For class-based views and DRF viewsets: restrict `get_queryset` to the user.

    Set `shared_presets = True` on views of models whose ownerless rows are presets.
    """

    shared_presets = False

    def get_queryset(self):
        return owned_by(super().get_queryset(), self.request.user, shared_presets=self.shared_presets)
