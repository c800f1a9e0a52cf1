"""Durations as the command line and the API write them. Pure: no Django.

`30s`, `2m`, `1h`, `1m30s`, `500ms`, or plain seconds (`45`, `2.5`).
"""

from __future__ import annotations

import re

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


class SpecError(ValueError):
    """A spec that does not parse; the message says what was expected."""


def parse_duration(text: str | int | float) -> float:
    """Seconds in `text`; SpecError when it is not a duration."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text)
    else:
        text = str(text).strip().lower()
        try:
            seconds = float(text)
        except ValueError:
            parts = _DURATION_PART.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise SpecError(f"{text!r} is not a duration (e.g. 30s, 2m, 1m30s, 45)") from None
            factor = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
            seconds = sum(float(n) * factor[u] for n, u in parts)
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        raise SpecError(f"{text!r} is not a duration of 0 or more seconds")
    return seconds
