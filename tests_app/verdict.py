"""A run's verdict: balance, error rate and p95 against the scenario's thresholds. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def judge(
    *, requests: int, failures: int, balance_score: float | None, p95_ms: float | None,
    threshold_balance: float, threshold_error_rate: float, threshold_p95_ms: float | None,
) -> tuple[bool, list[str]]:
    """(passed, reasons it failed). Every threshold that is missed gives one reason."""
    if requests <= 0:
        return False, ["no request completed: the target sent no answer LB Lab could count"]
    reasons = []
    if balance_score is None or balance_score < threshold_balance:
        shown = "none" if balance_score is None else f"{balance_score:.1f} %"
        reasons.append(f"balance score {shown} is under the {threshold_balance:.1f} % threshold")
    error_rate = failures / requests
    if error_rate > threshold_error_rate:
        reasons.append(f"error rate {error_rate * 100:.2f} % is over the {threshold_error_rate * 100:.2f} % threshold")
    if threshold_p95_ms is not None and p95_ms is not None and p95_ms > threshold_p95_ms:
        reasons.append(f"p95 latency {p95_ms:.1f} ms is over the {threshold_p95_ms:.1f} ms threshold")
    return not reasons, reasons


def judge_chaos(passed: bool, reasons: list[str], chaos: Sequence[Mapping]) -> tuple[bool, list[str]]:
    """The verdict with the run's chaos: each injection that did not recover within its limit
    (`passed` False in the summary's `chaos` list) fails the run, with its own reason."""
    # The injection's own reason (it names the kind and the time), as the reports match it.
    failing = [str(item.get("reason")) for item in chaos if item.get("passed") is False]
    return (passed and not failing), [*reasons, *failing]
