"""A run's history as files to download: its seconds as CSV or JSON, its summary as JSON.

Pure: no Django. The seconds come in the shape `metrics_app.services.samples_since` gives them
(`metrics_app.services.iter_run_seconds` yields a whole run's, read in chunks), so the same rows
feed the API, the live stream and the files. Each format has a streaming form (an iterator of
text pieces, for Django's StreamingHttpResponse: a four-hour run of 100 pods is 1.4 million rows)
and a whole-string form.

samples CSV (`samples_csv`, `samples_csv_lines`): a header line, then for each second in time
order its totals row and then one row per pod in name order ("unattributed", the requests no pod
was named for, included). Columns (`SAMPLE_COLUMNS`):

- `t`: seconds since the run started;
- `pod`: `TOTAL` ("(total)", which no pod name can be) on a second's totals row, else the pod;
- `requests`, `failures`: requests completed and failed in that second, by all pods or by the pod;
- `p95_ms`: 95th percentile latency in that second, of all requests or of the pod's;
- `rps`, `failures_per_s`, `users`, `active_connections`, `p50_ms`, `p99_ms`, `max_ms`: the
  second's totals (empty on pod rows);
- `cpu` (cores used, 1.0 = one core), `memory_bytes`, `ready` (1 or 0): the pod's (empty on
  totals rows).

An empty cell is a value that was not measured. A text cell that a spreadsheet would run as a
formula (starting with = + - @ or a tab) is written with a leading apostrophe.

samples JSON (`samples_json`, `samples_json_chunks`): {"run": <id>, "samples": [<second>, ...]},
each second exactly as `GET /api/runs/<id>/samples/` gives it. summary JSON (`summary_json`):
the run's summary exactly as `GET /api/runs/<id>/` gives it (ARCHITECTURE.md s6).

endpoints CSV (`endpoints_csv`): the summary's `endpoints`, a row per endpoint of the request
mix in its order (`ENDPOINT_COLUMNS`: requests, failures, req/s and failures/s over the run,
p50/p95/p99/max latency in ms). errors CSV (`errors_csv`): the summary's `errors`, a row per
failure group, the most frequent first (`ERROR_COLUMNS`: endpoint, type, HTTP status, message,
count, first and last seen in seconds since the start). Both as Locust's own stats and
failures CSVs have them, for a whole run.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping

from clusters import balance

TOTAL = balance.TOTALS_ROW  # reserved: no pod is counted under it (clusters.balance.clean_pod_name)
SAMPLE_COLUMNS = (
    "t", "pod", "requests", "failures", "p95_ms", "rps", "failures_per_s", "users", "active_connections",
    "p50_ms", "p99_ms", "max_ms", "cpu", "memory_bytes", "ready",
)
_SECOND_COLUMNS = SAMPLE_COLUMNS[2:12]
_POD_COLUMNS = ("requests", "failures", "p95_ms", "cpu", "memory_bytes", "ready")
ENDPOINT_COLUMNS = ("endpoint", "requests", "failures", "rps", "failures_per_s", "p50_ms", "p95_ms", "p99_ms", "max_ms")
ERROR_COLUMNS = ("endpoint", "type", "status", "message", "count", "first_s", "last_s")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_LINES_PER_PIECE = 2000  # CSV lines joined into one streamed piece


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return 1 if value else 0
    return value


def _text(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def samples_csv_rows(seconds: Iterable[Mapping]) -> Iterator[list]:
    """The CSV's rows as lists of cells (no header), in `SAMPLE_COLUMNS` order."""
    for second in seconds:
        t = second["t"]
        yield [t, TOTAL, *(_cell(second.get(column)) for column in _SECOND_COLUMNS), "", "", ""]
        for pod, figures in sorted((second.get("pods") or {}).items()):
            cells = {column: _cell((figures or {}).get(column)) for column in _POD_COLUMNS}
            yield [t, _text(pod), *(cells.get(column, "") for column in SAMPLE_COLUMNS[2:])]


def samples_csv_lines(seconds: Iterable[Mapping]) -> Iterator[str]:
    """The samples CSV as text pieces (the header first), each a few thousand whole lines."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SAMPLE_COLUMNS)
    lines = 1
    for row in samples_csv_rows(seconds):
        writer.writerow(row)
        lines += 1
        if lines >= _LINES_PER_PIECE:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            lines = 0
    if buffer.tell():
        yield buffer.getvalue()


def samples_csv(seconds: Iterable[Mapping]) -> str:
    """The whole samples CSV (module docstring): one row per second's totals and per pod per second."""
    return "".join(samples_csv_lines(seconds))


def samples_json_chunks(seconds: Iterable[Mapping], *, run_id: int) -> Iterator[str]:
    """The samples JSON as text pieces: together one JSON document."""
    yield f'{{"run": {int(run_id)}, "samples": ['
    for index, second in enumerate(seconds):
        yield ("" if index == 0 else ",\n") + json.dumps(second, allow_nan=False)
    yield "]}\n"


def samples_json(seconds: Iterable[Mapping], *, run_id: int) -> str:
    return "".join(samples_json_chunks(seconds, run_id=run_id))


def _table_csv(columns: tuple[str, ...], rows: Iterable[Mapping]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_text(value) if isinstance(value, str) else _cell(value)
                         for value in (row.get(column) for column in columns)])
    return buffer.getvalue()


def endpoints_csv(summary: Mapping) -> str:
    """The run's per-endpoint table (module docstring)."""
    return _table_csv(ENDPOINT_COLUMNS, summary.get("endpoints") or [])


def errors_csv(summary: Mapping) -> str:
    """The run's failures, grouped (module docstring)."""
    return _table_csv(ERROR_COLUMNS, summary.get("errors") or [])


def summary_json(summary: Mapping) -> str:
    """The run's summary as a JSON file (indented for reading)."""
    return json.dumps(summary, indent=2, allow_nan=False) + "\n"


def filename(run_id: int, name: str) -> str:
    """The download name of a run's file, e.g. filename(12, "samples.csv") -> "lblab-run-12-samples.csv"."""
    return f"lblab-run-{int(run_id)}-{name}"
