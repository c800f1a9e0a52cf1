from django.contrib import admin

from lbsite.admin import ReadOnlyAdminMixin
from metrics_app.models import MetricSample, PodSample, TuningDecision, TuningPolicy


@admin.register(TuningPolicy)
class TuningPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "enabled", "target_score", "window_s", "cooldown_s", "action_list", "min_replicas", "max_replicas"]
    list_filter = ["enabled"]
    list_editable = ["enabled"]
    search_fields = ["name", "description"]
    fieldsets = [
        (None, {"fields": ["name", "description", "enabled"]}),
        ("Goal", {"fields": ["target_score", "view", "p95_margin_pct", "window_s", "cooldown_s"]}),
        ("What the tuner may change", {
            "fields": ["allowed_actions", "algorithms", "min_replicas", "max_replicas", "max_weight", "dry_run"],
        }),
    ]

    @admin.display(description="Actions")
    def action_list(self, obj):
        return ", ".join(obj.allowed_actions)


@admin.register(TuningDecision)
class TuningDecisionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["run", "t", "action", "score_before", "predicted_score", "score_after", "prediction_error",
                    "outcome"]
    list_filter = ["action", "outcome"]
    search_fields = ["reason", "run__id"]
    list_select_related = ["run"]


@admin.register(MetricSample)
class MetricSampleAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["run", "t", "users", "rps", "failures_per_s", "p50_ms", "p95_ms", "p99_ms", "active_connections"]
    search_fields = ["run__id"]
    raw_id_fields = ["run"]
    list_select_related = ["run"]
    show_full_result_count = False  # counting a million samples on every page is slow


@admin.register(PodSample)
class PodSampleAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["run", "t", "pod", "requests", "failures", "p95_ms", "cpu", "memory_bytes", "ready"]
    list_filter = ["ready"]
    search_fields = ["pod", "run__id"]
    raw_id_fields = ["run"]
    list_select_related = ["run"]
    show_full_result_count = False
