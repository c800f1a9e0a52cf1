from django.contrib import admin

from chaos_app.models import ChaosExperiment, ChaosInjection
from lbsite.admin import PresetListFilter, ReadOnlyAdminMixin


@admin.register(ChaosExperiment)
class ChaosExperimentAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "kinds", "step_count", "updated_at"]
    list_filter = [PresetListFilter]
    search_fields = ["name", "description", "owner__username"]
    raw_id_fields = ["owner"]

    @admin.display(description="Faults")
    def kinds(self, obj):
        return ", ".join(step.get("kind", "?") for step in obj.steps or [])

    @admin.display(description="Steps")
    def step_count(self, obj):
        return len(obj.steps or [])


@admin.register(ChaosInjection)
class ChaosInjectionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["run", "step", "kind", "target", "severity", "started_at_s", "rto_s", "healing_s", "availability",
                    "passed", "rollback"]
    list_filter = ["kind", "severity", "rollback", "passed"]
    search_fields = ["target", "run__id", "error"]
    list_select_related = ["run"]
