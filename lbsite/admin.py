"""Admin pieces shared by the apps."""

from django.contrib import admin


class ReadOnlyAdminMixin:
    """History is recorded by runs, never edited by hand: view and delete only."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyTabularInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False


class PresetListFilter(admin.SimpleListFilter):
    """Shared presets (no owner) versus users' own objects."""

    title = "kind"
    parameter_name = "preset"

    def lookups(self, request, model_admin):
        return [("yes", "Shared presets"), ("no", "Users' own")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(owner__isnull=True)
        if self.value() == "no":
            return queryset.filter(owner__isnull=False)
        return queryset
