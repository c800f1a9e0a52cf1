"""A pod the cluster replaced under a new name (a pod kill: `pod_started` with `replaces`) is
retired from the run's expected pods from the moment its replacement appears: the window of the
kill shows the dip, later windows judge the replacement with the other live pods. The summary's
windows, the live series, the comparison series and the whole run's grade all say so."""

import pytest

from clusters.balance import ExpectedPods, analyse, windowed_scores
from metrics_app.comparison import RunSeconds, run_series
from metrics_app.live import LiveSeries
from metrics_app.summary import summarise

WINDOW_S = 10
KILLED, REPLACEMENT = "pod-1-aaaaa", "pod-1-bbbbb"
REPLACED = {KILLED: REPLACEMENT}


def sandbox_of_three() -> ExpectedPods:
    return ExpectedPods(count=3)


def kill_run() -> list[dict[str, int]]:
    """Three pods even for 4 s; pod-1 killed during second 4 (only the two others serve); its
    replacement appears in second 5 and takes its share: even again until second 30."""
    rows = [{"pod-0-xxxxx": 20, KILLED: 20, "pod-2-zzzzz": 20} for _ in range(4)]
    rows.append({"pod-0-xxxxx": 25, KILLED: 5, "pod-2-zzzzz": 25})
    rows += [{"pod-0-xxxxx": 20, REPLACEMENT: 20, "pod-2-zzzzz": 20} for _ in range(5, 30)]
    return rows


def as_second(t: int, row: dict[str, int]) -> dict:
    return {"t": float(t), "requests": sum(row.values()), "rps": float(sum(row.values())), "p95_ms": 3.0,
            "pods": {pod: {"requests": count, "failures": 0, "p95_ms": 3.0} for pod, count in row.items()}}


def test_windows_after_the_kill_judge_the_replacement_not_the_dead_name():
    rows = kill_run()
    before = windowed_scores(rows, WINDOW_S, expected=sandbox_of_three())
    after = windowed_scores(rows, WINDOW_S, expected=sandbox_of_three().with_replacements(REPLACED))
    # not retired, the dead name stays a pod at zero: every later window scores 0
    assert before[1:] == [0.0, 0.0]
    # retired: the kill's window still shows the dip (four names for three pods), later ones are even
    assert after[0] == pytest.approx(before[0]) and after[0] < 50.0
    assert after[1:] == [pytest.approx(100.0), pytest.approx(100.0)]


def test_the_summary_grades_the_run_over_its_live_pods_and_the_live_series_agrees():
    rows = kill_run()
    expected = sandbox_of_three().with_replacements(REPLACED)
    final = {"duration_s": 30.0, "requests": sum(sum(row.values()) for row in rows), "failures": 0,
             "pods": {pod: {"requests": sum(row.get(pod, 0) for row in rows), "failures": 0, "p95_ms": 3.0}
                      for pod in ("pod-0-xxxxx", KILLED, REPLACEMENT, "pod-2-zzzzz")}}
    seen = final["pods"]
    summary = summarise(run_id=1, final=final, per_second_pods=rows, expected_pods=expected.run_pods(seen),
                        shares=None, threshold=95.0, expected=expected)
    unretired = summarise(run_id=1, final=final, per_second_pods=rows, expected_pods=sandbox_of_three().judged(seen),
                          shares=None, threshold=95.0, expected=sandbox_of_three())
    assert unretired["balance"]["grade"] == "F"
    # pod-1's two names served 585 together, against 605 for each other pod
    assert summary["balance"]["grade"] == "A"
    assert summary["balance"]["score"] == pytest.approx(analyse({"a": 605, "b": 585, "c": 605}).score)
    assert summary["pods"][KILLED]["requests"] == 85 and summary["pods"][REPLACEMENT]["requests"] == 500
    assert summary["balance"]["windows"][1:] == [100.0, 100.0]
    # the live series, told of the replacement before the second it appears in, scores the same windows
    series = LiveSeries(95.0, WINDOW_S, sandbox_of_three())
    scores, live_alerts = [], []
    for t, row in enumerate(rows):
        if REPLACEMENT in row:
            series.retire(REPLACED)
        messages = series.feed(as_second(t, row))
        scores.append(messages[0]["score"])
        live_alerts += [m for m in messages[1:] if m["kind"] == "balance"]
    for number, window in enumerate(summary["balance"]["windows"]):
        assert window == pytest.approx(scores[(number + 1) * WINDOW_S - 1], abs=0.005)
    # one alert, the kill's: closed by the first window that starts with the replacement there
    (alert,) = summary["alerts"]
    assert (alert["end_s"], alert["ongoing"]) == (5, False)
    assert [m["end_t"] for m in live_alerts] == [None, 14.0]  # live: that window's last second
    # a replay that knows the replacement from the start (the report, the page's backlog) and the
    # comparison series give the same scores, second by second
    replay = LiveSeries(95.0, WINDOW_S, expected)
    assert [replay.feed(as_second(t, row))[0]["score"] for t, row in enumerate(rows)] == scores
    series_scores = run_series(RunSeconds.from_seconds([as_second(t, row) for t, row in enumerate(rows)]),
                               expected=expected, window_s=WINDOW_S)["score"]
    assert series_scores == [round(score, 2) for score in scores]


def test_the_summary_notes_which_pod_replaced_which():
    rows = kill_run()
    final = {"duration_s": 30.0, "requests": 1, "failures": 0,
             "pods": {pod: {"requests": 1, "failures": 0, "p95_ms": 3.0}
                      for pod in ("pod-0-xxxxx", KILLED, REPLACEMENT, "pod-2-zzzzz")}}
    expected = sandbox_of_three().with_replacements(REPLACED)
    summary = summarise(run_id=1, final=final, per_second_pods=rows, expected_pods=expected.run_pods(final["pods"]),
                        shares=None, threshold=95.0, expected=expected)
    (note,) = summary["notes"]
    assert note.startswith(f"{KILLED} was replaced by {REPLACEMENT} during the run")
