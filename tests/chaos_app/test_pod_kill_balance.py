"""A pod kill under balanced load, in a real run (the sandbox, a Locust subprocess, the run
driver): the killed pod's name is retired from the expected pods once its replacement appears,
so the run's balance is judged over the pods that serve, live, in the summary and in a replay."""

from __future__ import annotations

import pytest

from clusters.base import EventType
from metrics_app.summary import WINDOW_S
from tests.chaos_app.test_chaos_runs import chaos_run, events_of
from tests_app.selectors import report_figures

# solo: every window after the kill must score B or better, which two tests at once on 2 cores can spoil
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240), pytest.mark.solo]


def test_a_killed_pods_name_does_not_drag_the_balanced_run_to_f(alice, sandbox_at_close):
    messages: list[dict] = []

    def listen(events):
        events.second.add_listener(lambda ctx, second: messages.extend(second.messages))

    run = chaos_run(alice, chaos=["pod_kill@4s:0s::pod-1"], duration_s=25, listeners=[listen])
    assert sandbox_at_close.left == [""]
    victim = run.summary["chaos"][0]["target"]
    replacement = events_of(sandbox_at_close, EventType.POD_STARTED, replaces=victim)[0].pod
    balance = run.summary["balance"]
    windows = balance["windows"]
    # both names served: the summary's pods are what each really got
    assert run.summary["pods"][victim]["requests"] > 0 and run.summary["pods"][replacement]["requests"] > 0
    # the kill's window shows the dip (the victim's requests stop, its replacement starts late) ...
    assert windows[0] < balance["threshold"]
    # ... the later ones judge the replacement with the other live pods, not the dead name at zero
    assert len(windows) >= 3
    assert all(score >= 85.0 for score in windows[1:]), windows
    assert balance["grade"] in ("A", "B"), (balance["grade"], balance["score"])
    # every live score equals the summary's window that ends on its second
    samples = [m for m in messages if m["type"] == "sample"]
    for number, window_score in enumerate(windows):
        first, last = number * WINDOW_S, min(len(samples), (number + 1) * WINDOW_S) - 1
        if last - first + 1 == WINDOW_S:
            assert window_score == pytest.approx(samples[last]["score"], abs=0.005), number
    # the replacement is kept with the run: the report's replay of the recorded seconds scores the same
    assert run.replaced_pods == {victim: replacement}
    assert [note for note in run.summary["notes"] if note.startswith(f"{victim} was replaced by {replacement}")]
    figures = report_figures(run)
    assert figures["balance"]["data"][0]["y"] == [sample["score"] for sample in samples]
