from django.contrib.auth.mixins import LoginRequiredMixin
from django.urls import reverse_lazy
from django.views.generic import CreateView, DetailView, ListView

from lbsite.permissions import OwnedQuerysetMixin
from tests_app.forms import TargetForm
from tests_app.models import LoadTestRun, Target
from tests_app.services import save_target


class RunListView(LoginRequiredMixin, OwnedQuerysetMixin, ListView):
    model = LoadTestRun
    paginate_by = 25
    context_object_name = "runs"

    def get_queryset(self):
        return super().get_queryset().select_related("target")


class RunDetailView(LoginRequiredMixin, OwnedQuerysetMixin, DetailView):
    model = LoadTestRun
    context_object_name = "run"

    def get_queryset(self):
        return super().get_queryset().select_related("target", "scenario", "autotune")


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
        self.object = save_target(target=form.instance)
        return super(CreateView, self).form_valid(form)
