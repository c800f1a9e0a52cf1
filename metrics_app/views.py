"""Responses shared by the pages and the API."""

from __future__ import annotations

from django.http import StreamingHttpResponse

from metrics_app import exports
from metrics_app.services import iter_run_seconds

SAMPLE_FILES = {"samples.csv": "text/csv; charset=utf-8", "samples.json": "application/json"}


def samples_download(run_id: int, name: str) -> StreamingHttpResponse:
    """A run's recorded seconds as a streamed download: `name` is a key of SAMPLE_FILES."""
    seconds = iter_run_seconds(run_id)
    csv = name == "samples.csv"
    pieces = exports.samples_csv_lines(seconds) if csv else exports.samples_json_chunks(seconds, run_id=run_id)
    response = StreamingHttpResponse(pieces, content_type=SAMPLE_FILES[name])
    response["Content-Disposition"] = f'attachment; filename="{exports.filename(run_id, name)}"'
    return response
