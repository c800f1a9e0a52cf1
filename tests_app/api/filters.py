"""Filtering and ordering the runs list: one FilterSet for `GET /api/runs/` and the runs page.

`RunFilterSet(data, queryset=runs_visible_to(user), request=request)` works with DRF's
`request.query_params` and with a plain Django `request.GET` (a QueryDict) alike: `.qs` is the
filtered and ordered runs, `.form` the form to render, `.is_valid()` / `.errors` say what is wrong
(the API answers 400 with those field errors). Pass `request` so the target and scenario choices
are the user's own (and the shared scenario presets); without it they are empty.

Query parameters:

- `name`: part of the run's name (any case);
- `owner`: a username, among the owners of the runs the user sees (staff see everyone's);
- `status`: one of the run statuses; `target`, `scenario`: an id;
- `created_after`, `created_before`: a date (YYYY-MM-DD, the whole day in the site's time zone,
  both ends included) or an ISO 8601 date-time (a bound itself, included; without an offset it is
  in the site's time zone);
- `verdict`: `true` (passed) or `false` (failed); runs without a verdict match neither; empty: any;
- `ordering`: comma-separated among `id`, `name`, `created_at`, `started_at`, `status`, `balance_score`
  (the summary's balance score), each optionally with `-` for descending. Runs without a value
  sort last either way; ties keep the newest first.
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from lbsite.db import nulls_last
from tests_app.models import LoadTestRun, RunStatus, Scenario, Target
from tests_app.selectors import run_owners_visible_to, scenarios_visible_to, targets_of_runs_visible_to

VERDICTS = (("true", "Passed"), ("false", "Failed"))
ANY = "Any"  # the blank choice of every select: no filter on that field


class DateOrDateTimeField(forms.Field):
    """A date (YYYY-MM-DD) or an ISO 8601 date-time. Cleans to a `date`, or to an aware `datetime`
    (a naive one is taken in the current time zone)."""

    widget = forms.DateInput(attrs={"type": "date"})
    default_error_messages = {
        "invalid": "Enter a date (YYYY-MM-DD) or a date and time (ISO 8601, e.g. 2025-01-31T14:00:00Z).",
        "range": "That date is out of range.",
    }

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, dt.date):
            return value
        text = str(value).strip()
        try:
            day = parse_date(text)
            if day is not None:
                return day
            moment = parse_datetime(text)
        except ValueError as error:  # well formed, but no such day or time (2025-02-30)
            raise ValidationError(self.error_messages["invalid"], code="invalid") from error
        if moment is None:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        try:
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment)
            # The database compares in UTC: the moment must be representable there, and is sent so
            # (an offset like -18:35 is valid in Python and out of range for PostgreSQL).
            moment = moment.astimezone(dt.UTC)
        except (OverflowError, ValueError) as error:
            raise ValidationError(self.error_messages["range"], code="range") from error
        return moment


class DateOrDateTimeFilter(django_filters.Filter):
    """`created_at` from (`start=True`) or until a date-time, or a whole day for a date."""

    field_class = DateOrDateTimeField

    def __init__(self, *args, start: bool, **kwargs):
        self.start = start
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value is None:
            return qs
        if isinstance(value, dt.datetime):
            return qs.filter(**{f"{self.field_name}__{'gte' if self.start else 'lte'}": value})
        try:  # a date: from the start of that day, or until the start of the next
            if self.start:
                return qs.filter(**{f"{self.field_name}__gte": _start_of(value)})
            return qs.filter(**{f"{self.field_name}__lt": _start_of(value + dt.timedelta(days=1))})
        except OverflowError:  # before year 1 or after 9999: no bound on that side
            return qs


def _start_of(day: dt.date) -> dt.datetime:
    moment = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return moment.astimezone(dt.UTC)  # OverflowError at the ends of the calendar


class RunOrderingFilter(django_filters.OrderingFilter):
    """Order by the chosen fields, missing values last in both directions, newest first on ties."""

    def filter(self, qs, value):
        if not value:
            return qs
        orderings = []
        for param in value:
            if not param.lstrip("-"):  # `?ordering=,,` or `-`: empty entries order by nothing
                continue
            descending = param.startswith("-")
            name = self.param_map[param.lstrip("-")]
            orderings.append(nulls_last(F(name), descending=descending))
        return qs.order_by(*orderings, "-created_at", "-id")


def _targets(request):
    return targets_of_runs_visible_to(request.user) if request is not None else Target.objects.none()


def _owners(request):
    return run_owners_visible_to(request.user) if request is not None else get_user_model().objects.none()


def _scenarios(request):
    return scenarios_visible_to(request.user) if request is not None else Scenario.objects.none()


class RunFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains", label="Name")
    owner = django_filters.ModelChoiceFilter(queryset=_owners, to_field_name="username", empty_label=ANY,
                                             help_text="A username.")
    status = django_filters.ChoiceFilter(choices=RunStatus.choices, empty_label=ANY)
    target = django_filters.ModelChoiceFilter(queryset=_targets, empty_label=ANY)
    scenario = django_filters.ModelChoiceFilter(queryset=_scenarios, empty_label=ANY)
    created_after = DateOrDateTimeFilter(field_name="created_at", start=True, label="Created from",
                                         help_text="A date (the whole day) or an ISO 8601 date-time.")
    created_before = DateOrDateTimeFilter(field_name="created_at", start=False, label="Created until",
                                          help_text="A date (the whole day) or an ISO 8601 date-time.")
    # A blank first choice, so the page's form (submitted as it stands) filters nothing out.
    verdict = django_filters.TypedChoiceFilter(field_name="verdict_passed", choices=(("", ANY), *VERDICTS),
                                               coerce=lambda value: value == "true", empty_value=None,
                                               label="Verdict")
    ordering = RunOrderingFilter(
        fields=(("id", "id"), ("name", "name"), ("created_at", "created_at"), ("started_at", "started_at"),
                ("status", "status"), ("balance_score", "balance_score")),
        field_labels={"balance_score": "Balance score"}, empty_label="Newest first",
    )

    class Meta:
        model = LoadTestRun
        fields = ["name", "owner", "status", "target", "scenario", "created_after", "created_before", "verdict"]
