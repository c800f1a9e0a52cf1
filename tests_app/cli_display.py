"""What `manage.py loadtest` shows: a live panel each second, a results table at the end.

Rendering only (rich); the figures come from the sample lines and the run's summary.
"""

from __future__ import annotations

from typing import IO

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from clusters.faults import FAULT_KINDS
from metrics_app.figures import scaling_label, tuning_label
from metrics_app.reports import FAILOVER_HEADINGS, durability_facts, failover_rows, signed_points
from metrics_app.selectors import tuning_decisions

BAR_WIDTH = 30


def _bar(value: int, largest: int) -> str:
    filled = round(BAR_WIDTH * value / largest) if largest else 0
    return "█" * filled + "·" * (BAR_WIDTH - filled)


# Without a terminal (CI logs, a pipe) nothing wraps lines at 80 columns: this wide instead.
UNWRAPPED_WIDTH = 1000


def cli_console(file: IO) -> Console:
    """The console `loadtest` prints to: the terminal's width, or lines unwrapped in a file or pipe."""
    terminal = hasattr(file, "isatty") and file.isatty()
    return Console(file=file, width=None if terminal else UNWRAPPED_WIDTH)


class LiveDisplay:
    """Context manager; `attach` is a listener of the run's events (tests_app.run_events): each
    second it shows the live `sample` message the run page gets, so both show the same score."""

    def __init__(self, run, *, console: Console):
        self.run = run
        self.scenario = run.scenario_spec
        self.console = console
        self.pod_totals: dict[str, int] = {}
        self.requests = self.failures = 0
        self.decisions: list[dict] = []  # the run's tuning decisions so far, as the summary lists them
        self.live = Live(self._render(None), console=self.console, refresh_per_second=2, transient=False)

    def __enter__(self):
        self.live.__enter__()
        return self

    def __exit__(self, *exc):
        result = self.live.__exit__(*exc)
        self.console.print()
        return result

    def attach(self, events) -> None:
        events.second.add_listener(self.on_second)

    def on_second(self, ctx, second) -> None:
        sample = next(message for message in second.messages if message["type"] == "sample")
        self.requests += sample["requests"] or 0
        self.failures += sample["failures"] or 0
        for pod, figures in sample["pods"].items():
            self.pod_totals[pod] = self.pod_totals.get(pod, 0) + (figures["requests"] or 0)
        if self.run.autotune_id is not None:  # the tuner's listener has written this second's decisions
            self.decisions = tuning_decisions(self.run.pk)
        self.live.update(self._render(sample))

    def _render(self, sample: dict | None):
        header = Text(f"Run {self.run.pk} · {self.run.target.name} · {self.scenario.shape} · ", style="bold")
        if sample is None:
            return Group(header + Text("starting…"))
        p95, score = sample.get("p95_ms"), sample.get("score")
        header.append(
            f"{sample['t']:.0f}/{self.scenario.duration_s} s · {sample.get('users', 0)} users"
            f" · {sample.get('rps') or 0:.0f} req/s · p95 {'–' if p95 is None else f'{p95:.1f} ms'}"
            f" · errors {self.failures}/{self.requests} · balance {'–' if score is None else f'{score:.1f} %'}"
        )
        pods = Table.grid(padding=(0, 1))
        largest = max(self.pod_totals.values(), default=0)
        for pod, total in sorted(self.pod_totals.items()):
            pods.add_row(escape(pod), _bar(total, largest), str(total))  # the target names pods: text, not markup
        return Group(header, pods, *(Text(decision_line(decision), style="cyan") for decision in self.decisions))


def _points(value) -> str:
    return "–" if value is None else f"{value:.1f}"


def decision_line(decision: dict) -> str:
    """One tuning decision as the live panel shows it: when, what changed, why, predicted and seen."""
    seen = "" if decision.get("score_after") is None else f", observed {_points(decision['score_after'])}"
    return (f"tuning {decision['t']:.0f} s · {decision['action']} · {tuning_label(decision)} · {decision['outcome']}"
            f" · score {_points(decision.get('score_before'))}, predicted {_points(decision.get('predicted_score'))}"
            f"{seen} · {decision.get('reason') or ''}")


def _ms(value) -> str:
    return "–" if value is None else f"{value:.1f}"


def _print_endpoints_and_failures(console: Console, summary: dict) -> None:
    """Locust's end-of-run stats: a row per endpoint of the request mix, then the failures."""
    endpoints = summary.get("endpoints") or []
    if not endpoints:
        return
    table = Table(title="Requests by endpoint (latency in ms)")
    table.add_column("endpoint", no_wrap=True)
    for column in ("requests", "failures", "req/s", "p50", "p95", "p99", "max"):
        table.add_column(column, justify="right")
    for figures in endpoints:
        table.add_row(figures["endpoint"], str(figures.get("requests", 0)), str(figures.get("failures", 0)),
                      f"{figures.get('rps') or 0:.1f}", *(_ms(figures.get(key)) for key in ("p50_ms", "p95_ms", "p99_ms",
                                                                                           "max_ms")))
    console.print(table)
    errors = summary.get("errors") or []
    if not errors:
        console.print("no failures")
        return
    table = Table(title="Failures (first and last seen: seconds since the start)")
    table.add_column("count", justify="right")
    table.add_column("endpoint", no_wrap=True)
    table.add_column("error", overflow="fold")
    table.add_column("first", justify="right")
    table.add_column("last", justify="right")
    for error in errors:
        status = "" if error.get("status") is None else f" {error['status']}"
        table.add_row(str(error["count"]), escape(error["endpoint"]), escape(f"{error['type']}{status}: {error['message']}"),
                      f"{error['first_s']:.1f}", f"{error['last_s']:.1f}")
    console.print(table)


def _seconds(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def _print_chaos(console: Console, summary: dict) -> None:
    """The run's chaos steps: when each was applied and removed, on what, and what it did."""
    injections = summary.get("chaos") or []
    if not injections:
        return
    table = Table(title="Chaos")
    for column in ("step", "target", "start s", "end s", "RTO s", "healing s", "balance s", "availability",
                   "failed", "rolled back"):
        table.add_column(column, justify="left" if column in ("step", "target") else "right")
    for item in injections:
        availability = item.get("availability")
        kind = FAULT_KINDS.get(item.get("kind"))
        if item.get("rollback") == "not_run":
            rolled = "not run"
        elif kind is not None and not kind.injects:
            rolled = "yours"  # the user's own fault: LB Lab applied nothing to roll back
        else:
            rolled = "yes" if item.get("rolled_back") else "no"
        table.add_row(escape(item.get("spec") or item.get("kind", "")), escape(item.get("target") or ""),
                      _seconds(item.get("started_at_s")) if rolled != "not run" else "–", _seconds(item.get("ended_at_s")),
                      _seconds(item.get("rto_s")), _seconds(item.get("healing_s")),
                      _seconds(item.get("balance_recovery_s")),
                      "–" if availability is None else f"{availability:.2%}",
                      "–" if item.get("requests_failed") is None else str(item["requests_failed"]), rolled)
    console.print(table)
    for item in injections:
        if item.get("error"):
            console.print(f"[yellow]chaos step {item.get('step')}:[/yellow] {escape(item['error'])}")


def _print_durability(console: Console, summary: dict) -> None:
    """The durability probe's verdict and the failover's events (a stateful target only)."""
    durability = summary.get("durability")
    if not durability:
        return
    stateful = summary.get("stateful") or {}
    table = Table(title=f"Failover ({stateful.get('store', '')}, seconds since the start)")
    for heading in FAILOVER_HEADINGS:
        table.add_column(heading, justify="right" if heading.startswith("At") else "left", overflow="fold")
    for row in failover_rows(stateful):
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)
    console.print(f"durability ({escape(str(durability.get('mode')))})")
    for label, text in durability_facts(durability):
        console.print(f"  {escape(label)}: {escape(text)}")


def _print_tuning(console: Console, summary: dict) -> None:
    """The tuner's decisions: when, what it changed, why, the score predicted and the score seen."""
    decisions = summary.get("tuning") or []
    if not decisions:
        return
    table = Table(title="Tuning")
    for column in ("t s", "action", "from -> to", "reason", "score before", "predicted", "observed", "error",
                   "outcome"):
        table.add_column(column, justify="right" if column in ("t s", "score before", "predicted", "observed",
                                                              "error") else "left",
                         overflow="fold" if column == "reason" else "ellipsis")
    for decision in decisions:
        table.add_row(f"{decision['t']:.1f}", escape(decision["action"]), escape(tuning_label(decision)),
                      escape(decision.get("reason") or ""), _points(decision.get("score_before")),
                      _points(decision.get("predicted_score")), _points(decision.get("score_after")),
                      signed_points(decision.get("prediction_error")), escape(decision.get("outcome") or ""))
    console.print(table)


def print_results(run, *, console: Console) -> None:
    summary = run.summary or {}
    pods = summary.get("pods") or {}
    total = sum(figures.get("requests", 0) for figures in pods.values()) or 1
    table = Table(title=f"Run {run.pk}: {run.status}")
    for column in ("pod", "requests", "share", "failures", "p95 ms"):
        table.add_column(column, justify="left" if column == "pod" else "right")
    for pod, figures in pods.items():
        p95 = figures.get("p95_ms")
        table.add_row(escape(pod), str(figures.get("requests", 0)), f"{figures.get('requests', 0) / total:.1%}",
                      str(figures.get("failures", 0)), "–" if p95 is None else f"{p95:.1f}")
    if summary.get("unattributed"):
        table.add_row("unattributed", str(summary["unattributed"]), "", "", "")
    console.print(table)
    _print_endpoints_and_failures(console, summary)
    latency = summary.get("latency_ms") or {}
    figures = summary.get("balance") or {}
    if summary.get("requests") is not None:
        console.print(
            f"{summary.get('requests', 0)} requests, {summary.get('failures', 0)} failed, "
            f"{summary.get('rps', 0):.1f} req/s; p50 {latency.get('p50')} ms, p95 {latency.get('p95')} ms, "
            f"p99 {latency.get('p99')} ms"
        )
    if figures:
        console.print(
            f"balance {figures['score']:.1f} % (grade {figures['grade']}, threshold {figures['threshold']:.0f} %): "
            f"CV {figures['cv']:.4f}, Jain {figures['jain']:.5f}, max/mean {figures['max_over_mean']:.3f}, "
            f"p-value {figures['p_value']:.3g}"
        )
    utilisation = summary.get("utilisation")
    if utilisation:
        console.print(f"utilisation (CPU) balance {utilisation['score']:.1f} % (grade {utilisation['grade']})")
    # pod names come from the target: escaped, so a name in brackets is not read as markup
    diagnosis = summary.get("diagnosis")
    if diagnosis:
        console.print(f"[yellow]why:[/yellow] {escape(diagnosis['explanation'])}")
        console.print(f"[yellow]advice:[/yellow] {escape(diagnosis['advice'])}")
    health = summary.get("pod_health") or {}
    for outlier in health.get("outliers") or []:
        console.print(f"[yellow]pod:[/yellow] {escape(outlier['message'])}")
    if health.get("diagnosis"):
        console.print(f"[yellow]advice:[/yellow] {escape(health['diagnosis']['advice'])}")
    for alert in summary.get("alerts") or []:
        console.print(f"[yellow]alert:[/yellow] {escape(alert['message'])}")
    for note in summary.get("notes") or []:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")
    _print_chaos(console, summary)
    _print_durability(console, summary)
    _print_tuning(console, summary)
    for change in summary.get("scaling") or []:
        console.print(f"[cyan]scaling:[/cyan] at {_seconds(change.get('t'))} s, {escape(scaling_label(change))}")
    for reason in run.verdict_reasons or []:
        console.print(f"[red]✗[/red] {escape(reason)}")
    if run.error:
        console.print(f"[red]error:[/red] {escape(run.error)}")
    if run.verdict_passed:
        console.print("[green]✓ passed[/green]")
