from django.contrib import admin, messages
from django.template.loader import render_to_string

from chaos_app.models import ChaosInjection
from clusters.targets import TARGET_KINDS
from lbsite.admin import PresetListFilter, ReadOnlyAdminMixin, ReadOnlyTabularInline
from metrics_app.models import TuningDecision
from metrics_app.selectors import samples_overview
from tests_app.models import LoadTestRun, Scenario, Target
from tests_app.services import request_stop


def kind_fieldsets() -> list[tuple[str, dict]]:
    """A fieldset per target kind, from the registry; a field two kinds use (a URL's and a
    Kubernetes target's `base_url`) is shown once, in the first kind's set, as the admin requires."""
    seen: set[str] = set()
    sets = []
    for kind in TARGET_KINDS.values():
        fields = [name for name in kind.fields if name not in seen]
        seen.update(fields)
        sets.append((kind.label, {"fields": fields}))
    return sets


@admin.register(Target)
class TargetAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "kind", "where", "attribution", "updated_at"]
    list_filter = ["kind", "algorithm", "attribution"]
    search_fields = ["name", "base_url", "namespace", "service", "owner__username"]
    raw_id_fields = ["owner"]
    fieldsets = [
        (None, {"fields": ["owner", "name", "kind"]}),
        *kind_fieldsets(),
        ("Pod attribution", {"fields": ["attribution", "pod_header", "pod_json_field", "prometheus_url",
                                        "prometheus_query", "expected_pods", "expected_pod_count", "weights"]}),
    ]

    @admin.display(description="Where")
    def where(self, obj):
        return obj.where


@admin.register(Scenario)
class ScenarioAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "shape", "users", "spawn_rate", "duration_s", "threshold_balance", "keep_alive"]
    list_filter = [PresetListFilter, "shape", "keep_alive"]
    search_fields = ["name", "description", "owner__username"]
    raw_id_fields = ["owner"]
    fieldsets = [
        (None, {"fields": ["owner", "name", "description"]}),
        ("Shape", {"fields": ["shape", "users", "spawn_rate", "duration_s", "spike_factor", "spike_at_s",
                              "spike_length_s", "stages"]}),
        ("Requests", {"fields": ["request_mix", "think_time_min_ms", "think_time_max_ms", "keep_alive", "arrival_rate"]}),
        ("Thresholds", {"fields": ["threshold_balance", "threshold_p95_ms", "threshold_error_rate"]}),
    ]


class ChaosInjectionInline(ReadOnlyTabularInline):
    model = ChaosInjection
    fields = ["step", "spec", "target", "started_at_s", "ended_at_s", "rto_s", "healing_s", "balance_recovery_s",
              "availability", "requests_failed", "p95_during_ms", "p95_after_ms", "passed", "reason", "rollback",
              "error"]
    readonly_fields = fields


class TuningDecisionInline(ReadOnlyTabularInline):
    model = TuningDecision
    fields = ["t", "action", "before", "after", "score_before", "predicted_score", "score_after", "prediction_error",
              "outcome", "reason"]
    readonly_fields = fields


@admin.register(LoadTestRun)
class LoadTestRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "name", "owner", "target", "scenario_name", "status", "balance", "created_at", "duration"]
    list_filter = ["status", "target__kind", "created_at"]
    search_fields = ["id", "name", "owner__username", "target__name", "error"]
    date_hierarchy = "created_at"
    list_select_related = ["owner", "target"]
    inlines = [ChaosInjectionInline, TuningDecisionInline]
    actions = ["stop_runs"]
    fieldsets = [
        (None, {"fields": ["name", "owner", "target", "scenario", "autotune", "workers", "status", "error"]}),
        ("Timing", {"fields": ["created_at", "started_at", "ended_at", "heartbeat_at", "attempt", "stop_requested"]}),
        ("Results", {"fields": ["samples_summary", "verdict_passed", "verdict_reasons", "summary"]}),
        ("Configuration", {"classes": ["collapse"], "fields": ["scenario_config", "chaos", "chaos_experiment",
                                                               "chaos_settings"]}),
    ]
    readonly_fields = [f for _, options in fieldsets for f in options["fields"]]

    @admin.display(description="Scenario")
    def scenario_name(self, obj):
        return obj.scenario_config.get("name", "custom")

    @admin.display(description="Balance", ordering="balance_score")
    def balance(self, obj):
        balance = obj.summary.get("balance") or {}
        return f"{balance['score']:.1f} % ({balance.get('grade', '?')})" if "score" in balance else "–"

    @admin.display(description="Duration")
    def duration(self, obj):
        if obj.started_at and obj.ended_at:
            return f"{(obj.ended_at - obj.started_at).total_seconds():.0f} s"
        return "–"

    @admin.display(description="Samples")
    def samples_summary(self, obj):
        return render_to_string("admin/tests_app/samples_summary.html", {"overview": samples_overview(obj.pk)})

    @admin.action(description="Stop selected runs")
    def stop_runs(self, request, queryset):
        stopped = 0
        for run in queryset:
            if not run.is_finished:
                request_stop(run=run)
                stopped += 1
        self.message_user(request, f"Stop requested for {stopped} run(s).", messages.SUCCESS)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser
