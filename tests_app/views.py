from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.functional import cached_property
from django.views import View
from django.views.decorators.http import require_safe
from django.views.generic import DetailView, FormView, ListView
from prometheus_client import CONTENT_TYPE_LATEST

from lbsite.permissions import OwnedQuerysetMixin, sees_everyones
from lbsite.prometheus import exposition
from lbsite.staticfiles import static_text
from metrics_app import exports
from metrics_app.exports import filename, summary_json
from metrics_app.figures import PLOTLY_CONFIG, compare_figures, figure_payload
from metrics_app.reports import (
    CHAOS_FIGURES,
    SCALING_HEADINGS,
    TUNING_HEADINGS,
    chaos_rows,
    run_report_markdown,
    scaling_rows,
    tuning_rows,
)
from metrics_app.selectors import iter_run_seconds
from tests_app import services
from tests_app.api.filters import RunFilterSet
from tests_app.api.serializers import CompareQuerySerializer
from tests_app.forms import RunForm, TargetForm
from tests_app.models import LoadTestRun
from tests_app.selectors import (
    report_figures,
    run_charts,
    runs_in_order,
    runs_visible_to,
    targets_visible_to,
    targets_with_run_counts,
)

SAMPLE_FILES = {"samples.csv": "text/csv; charset=utf-8", "samples.json": "application/json"}
# Files made from the run's summary: name -> (content type, how the summary is written).
SUMMARY_FILES = {
    "summary.json": ("application/json", summary_json),
    "endpoints.csv": ("text/csv; charset=utf-8", exports.endpoints_csv),
    "errors.csv": ("text/csv; charset=utf-8", exports.errors_csv),
}
MARKDOWN_REPORT = "report.md"  # the run report as Markdown (metrics_app.reports), one more export


def samples_download(run_id: int, name: str) -> StreamingHttpResponse:
    """A run's recorded seconds as a streamed download: `name` is a key of SAMPLE_FILES."""
    seconds = iter_run_seconds(run_id)
    csv = name == "samples.csv"
    pieces = exports.samples_csv_lines(seconds) if csv else exports.samples_json_chunks(seconds, run_id=run_id)
    response = StreamingHttpResponse(pieces, content_type=SAMPLE_FILES[name])
    response["Content-Disposition"] = f'attachment; filename="{exports.filename(run_id, name)}"'
    return response


class RunListView(LoginRequiredMixin, OwnedQuerysetMixin, ListView):
    """The user's runs (staff: everyone's, with their owners), filtered and sorted with the API's
    own FilterSet (one set of rules)."""

    model = LoadTestRun
    paginate_by = 25
    context_object_name = "runs"

    def get_queryset(self):
        runs = super().get_queryset().select_related("owner", "target").order_by("-created_at", "-id")
        self.filterset = RunFilterSet(self.request.GET or None, queryset=runs, request=self.request)
        self.show_owner = sees_everyones(self.request.user, LoadTestRun)
        if not self.show_owner:  # only their own runs: nothing to tell apart by owner
            del self.filterset.form.fields["owner"]
        if not self.filterset.is_bound:
            return runs
        return self.filterset.qs if self.filterset.is_valid() else runs.none()

    def get_context_data(self, **kwargs):
        filtering = {key for key in self.request.GET if key not in ("page", "ordering")}
        return super().get_context_data(
            **kwargs, filter=self.filterset, filtered=bool(filtering),
            ordering=self.request.GET.get("ordering", ""), show_owner=self.show_owner,
        )


class RunDetailView(LoginRequiredMixin, OwnedQuerysetMixin, DetailView):
    """The live run page: the charts fill from `/ws/runs/<id>/` (static/js/live_run.js)."""

    model = LoadTestRun
    context_object_name = "run"

    def get_queryset(self):
        return super().get_queryset().select_related("target", "scenario", "autotune")

    def get_context_data(self, **kwargs):
        specs, pod_usage_missing = run_charts(self.object)
        return super().get_context_data(
            **kwargs, chart_specs=specs, pod_usage_missing=pod_usage_missing, plotly_config=PLOTLY_CONFIG,
            queue_place=services.queue_place(self.object),
        )


class RunResultsView(LoginRequiredMixin, OwnedQuerysetMixin, DetailView):
    """The results of a run as an HTML fragment: the live page swaps it in when the run ends."""

    model = LoadTestRun
    context_object_name = "run"
    template_name = "tests_app/_run_results.html"


class RunCreateView(LoginRequiredMixin, FormView):
    form_class = RunForm
    template_name = "tests_app/run_form.html"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "owner": self.request.user}

    def post(self, request, *args, **kwargs):
        form = self.get_form()
        run = form.submit()
        return redirect("run-detail", pk=run.pk) if run else self.form_invalid(form)


class RunAgainView(LoginRequiredMixin, View):
    """*Run again*: a new run of a run's target, frozen scenario and options (services.run_again); a
    registered locustfile's run says so when the file changed since (the new run keeps the new text)."""

    def post(self, request, pk):
        run = get_object_or_404(runs_visible_to(request.user), pk=pk)
        try:
            again = services.run_again(owner=request.user, run=run)
        except services.RunRejected as rejected:
            for message in rejected.messages:
                messages.error(request, f"Run {run.pk} could not run again: {message}")
            return redirect("runs")
        if run.locustfile_sha256 and again.locustfile_sha256 != run.locustfile_sha256:
            messages.info(request, f"{again.locustfile['registered']} changed since run {run.pk}: run {again.pk} runs "
                                   f"it as it is now (sha256 {again.locustfile_sha256[:12]}, was "
                                   f"{run.locustfile_sha256[:12]}).")
        return redirect("run-detail", pk=again.pk)


class RunCompareView(LoginRequiredMixin, View):
    """2 to 6 runs side by side: `?ids=1,2` as in the API, or `ids=1&ids=2` from the runs list."""

    def get(self, request):
        query = CompareQuerySerializer(data={"ids": ",".join(request.GET.getlist("ids"))})
        if not query.is_valid():
            return render(request, "tests_app/run_compare.html", {"error": query.errors["ids"][0]}, status=400)
        ids = query.validated_data["ids"]
        runs = runs_in_order(request.user, ids)
        if runs is None:
            raise Http404("No such run.")
        if len(request.GET.getlist("ids")) > 1:  # ticked in the list, which is newest first: the oldest is the reference
            runs.sort(key=lambda run: (run.created_at, run.pk))
            ids = [run.pk for run in runs]
        comparison = services.runs_comparison(runs)
        labels = {str(run["id"]): run["label"] for run in comparison["runs"]}
        figures = compare_figures(comparison["series"], labels, threshold=comparison["threshold"])
        return render(request, "tests_app/run_compare.html", {
            "comparison": comparison,
            "rows": [{**figure, "cells": list(zip(figure["values"], figure["deltas"], figure["delta_pct"],
                                                  figure["verdicts"], strict=True))}
                     for figure in comparison["figures"]],
            "figures": [figure_payload(figure) for figure in figures.values()],
            "api_url": reverse("api:run-compare") + "?ids=" + ",".join(map(str, ids)),
        })


class RunReportView(LoginRequiredMixin, OwnedQuerysetMixin, DetailView):
    """The run as one standalone HTML file (plotly.js inlined): it opens anywhere, offline."""

    model = LoadTestRun
    context_object_name = "run"
    template_name = "tests_app/run_report.html"

    def get_context_data(self, **kwargs):
        figures = report_figures(self.object)
        summary = self.object.summary if isinstance(self.object.summary, dict) else {}
        return super().get_context_data(
            **kwargs, figures=[figure_payload(figure) for figure in figures.values()],
            chaos_rows=chaos_rows(summary.get("chaos") or []), chaos_figures=CHAOS_FIGURES,
            tuning_rows=tuning_rows(summary.get("tuning") or []), tuning_headings=TUNING_HEADINGS,
            scaling_rows=scaling_rows(summary.get("scaling") or []), scaling_headings=SCALING_HEADINGS,
            pod_usage_missing=run_charts(self.object)[1], plotly_js=static_text("plotly/plotly.min.js"),
            figures_js=static_text("js/linked_zoom.js") + static_text("js/plotly_figures.js"),
        )

    def render_to_response(self, context, **kwargs):
        response = super().render_to_response(context, **kwargs)
        response["Content-Disposition"] = f'attachment; filename="{filename(self.object.pk, "report.html")}"'
        return response


class RunExportView(LoginRequiredMixin, View):
    """A run's seconds as CSV or JSON (streamed), or its summary as JSON and its per-endpoint
    table and failures as CSV, as a download."""

    def get(self, request, pk, name):
        run = get_object_or_404(runs_visible_to(request.user), pk=pk)
        if name in SAMPLE_FILES:
            return samples_download(run.pk, name)
        if name == MARKDOWN_REPORT:
            summary = {"status": run.status, **(run.summary if isinstance(run.summary, dict) else {})}
            response = HttpResponse(run_report_markdown(summary, run_name=run.name or str(run), run_id=run.pk),
                                    content_type="text/markdown; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{filename(run.pk, name)}"'
            return response
        if name not in SUMMARY_FILES:
            raise Http404("No such export.")
        content_type, write = SUMMARY_FILES[name]
        response = HttpResponse(write(run.summary or {}), content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename(run.pk, name)}"'
        return response


class RunStopView(LoginRequiredMixin, View):
    def post(self, request, pk):
        services.request_stop(run=get_object_or_404(runs_visible_to(request.user), pk=pk))
        return redirect(reverse("run-detail", args=[pk]))


class TargetListView(LoginRequiredMixin, ListView):
    paginate_by = 50
    context_object_name = "targets"

    def get_queryset(self):
        return targets_with_run_counts(self.request.user).order_by("name")


class TargetFormViewMixin(LoginRequiredMixin):
    """A target's form saved through services.save_target (fields, then the allow-list)."""

    form_class = TargetForm
    template_name = "tests_app/target_form.html"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "owner": self.request.user}

    def form_valid(self, form):
        try:
            target = services.save_target(target=form.instance)
        except ValidationError as error:
            form.add_error(None, error)
            return self.form_invalid(form)
        messages.success(self.request, f"Saved “{target.name}”.")
        return redirect("targets")


class TargetCreateView(TargetFormViewMixin, FormView):
    pass


class TargetEditView(TargetFormViewMixin, FormView):
    """A saved target, open for editing: saved in place while no run uses it, otherwise as a new
    version (services.target_for_editing), so the runs keep the target they ran on."""

    @cached_property
    def target(self):
        return get_object_or_404(targets_visible_to(self.request.user), pk=self.kwargs["pk"])

    @cached_property
    def editing(self):
        return services.target_for_editing(self.target)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "instance": self.editing}

    def get_context_data(self, **kwargs):
        new_version = self.editing is not self.target
        return super().get_context_data(**kwargs, target=self.target, new_version=new_version,
                                        runs_on=services.runs_on(self.target) if new_version else 0)


class TargetDeleteView(LoginRequiredMixin, View):
    """Asks first; a target runs refer to is kept, with why and what to do instead."""

    template_name = "tests_app/target_confirm_delete.html"

    def get(self, request, pk):
        target = get_object_or_404(targets_visible_to(request.user), pk=pk)
        return render(request, self.template_name, {"target": target})

    def post(self, request, pk):
        target = get_object_or_404(targets_visible_to(request.user), pk=pk)
        try:
            services.delete_target(target=target)
        except services.TargetInUse as refused:
            # 200 as for any form the server refuses (a 4xx page is a browser console error)
            return render(request, self.template_name, {"target": target, "refused": refused.messages[0]})
        messages.success(request, f"Deleted “{target.name}”.")
        return redirect("targets")


@require_safe
def prometheus_metrics(request):
    """LB Lab's own metrics for Prometheus (lbsite.prometheus, tests_app.prometheus): counts and
    timings only, nobody's data, so scrapers need no login (the NetworkPolicy keeps it in-cluster)."""
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
