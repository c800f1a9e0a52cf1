from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.views import View
from django.views.generic import CreateView, DetailView, FormView, ListView

from lbsite.permissions import OwnedQuerysetMixin
from lbsite.staticfiles import static_text
from metrics_app import exports
from metrics_app.exports import filename, summary_json
from metrics_app.figures import PLOTLY_CONFIG, compare_figures, figure_payload
from metrics_app.selectors import iter_run_seconds
from tests_app import services
from tests_app.api.filters import RunFilterSet
from tests_app.api.serializers import CompareQuerySerializer
from tests_app.forms import RunForm, TargetForm
from tests_app.models import LoadTestRun, Target
from tests_app.selectors import report_figures, run_charts, runs_in_order, runs_visible_to

SAMPLE_FILES = {"samples.csv": "text/csv; charset=utf-8", "samples.json": "application/json"}
# Files made from the run's summary: name -> (content type, how the summary is written).
SUMMARY_FILES = {
    "summary.json": ("application/json", summary_json),
    "endpoints.csv": ("text/csv; charset=utf-8", exports.endpoints_csv),
    "errors.csv": ("text/csv; charset=utf-8", exports.errors_csv),
}


def samples_download(run_id: int, name: str) -> StreamingHttpResponse:
    """A run's recorded seconds as a streamed download: `name` is a key of SAMPLE_FILES."""
    seconds = iter_run_seconds(run_id)
    csv = name == "samples.csv"
    pieces = exports.samples_csv_lines(seconds) if csv else exports.samples_json_chunks(seconds, run_id=run_id)
    response = StreamingHttpResponse(pieces, content_type=SAMPLE_FILES[name])
    response["Content-Disposition"] = f'attachment; filename="{exports.filename(run_id, name)}"'
    return response


class RunListView(LoginRequiredMixin, OwnedQuerysetMixin, ListView):
    """The user's runs, filtered and sorted with the API's own FilterSet (one set of rules)."""

    model = LoadTestRun
    paginate_by = 25
    context_object_name = "runs"
    sort_columns = (("id", "#"), ("created_at", "Created"), ("status", "Status"), ("balance_score", "Balance"))

    def get_queryset(self):
        runs = super().get_queryset().select_related("target").order_by("-created_at", "-id")
        self.filterset = RunFilterSet(self.request.GET or None, queryset=runs, request=self.request)
        if not self.filterset.is_bound:
            return runs
        return self.filterset.qs if self.filterset.is_valid() else runs.none()

    def get_context_data(self, **kwargs):
        filtering = {key for key in self.request.GET if key not in ("page", "ordering")}
        return super().get_context_data(
            **kwargs, filter=self.filterset, filtered=bool(filtering), sort_columns=self.sort_columns,
            ordering=self.request.GET.get("ordering", ""),
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

    def form_valid(self, form):
        try:
            run = services.submit_run(owner=self.request.user, request=form.run_request())
        except services.RunRejected as rejected:
            form.add_rejection(rejected)
            return self.form_invalid(form)
        return redirect("run-detail", pk=run.pk)


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
        return super().get_context_data(
            **kwargs, figures=[figure_payload(figure) for figure in figures.values()],
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


class TargetListView(LoginRequiredMixin, OwnedQuerysetMixin, ListView):
    model = Target
    paginate_by = 50
    context_object_name = "targets"


class TargetCreateView(LoginRequiredMixin, CreateView):
    model = Target
    form_class = TargetForm
    success_url = reverse_lazy("targets")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "owner": self.request.user}

    def form_valid(self, form):
        self.object = services.save_target(target=form.instance)
        return super(CreateView, self).form_valid(form)
