"""The samples CSV: for each second its totals row and a row per pod, columns as documented, and the
pods' rows add up to the totals."""

import csv
import io

from metrics_app import exports


def seconds():
    return [
        {"t": 0.0, "users": 10, "requests": 9, "failures": 1, "rps": 9.0, "failures_per_s": 1.0, "p50_ms": 1.0,
         "p95_ms": 3.5, "p99_ms": 4.0, "max_ms": 7.25, "active_connections": 10,
         "pods": {"pod-b": {"requests": 4, "failures": 1, "p95_ms": 3.0, "cpu": 0.25, "memory_bytes": 1024, "ready": True},
                  "pod-a": {"requests": 3, "failures": 0, "p95_ms": 4.0, "cpu": None, "memory_bytes": None, "ready": False},
                  "unattributed": {"requests": 2, "failures": 0, "p95_ms": None, "cpu": None, "memory_bytes": None,
                                   "ready": True}}},
        {"t": 1.0, "users": 10, "requests": 0, "failures": 0, "rps": 0.0, "failures_per_s": 0.0, "p50_ms": None,
         "p95_ms": None, "p99_ms": None, "max_ms": None, "active_connections": 0, "pods": {}},
    ]


def parsed(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_header_then_totals_then_pods_in_name_order():
    rows = parsed(exports.samples_csv(seconds()))
    assert tuple(rows[0]) == exports.SAMPLE_COLUMNS
    assert [(row["t"], row["pod"]) for row in rows] == [
        ("0.0", "(total)"), ("0.0", "pod-a"), ("0.0", "pod-b"), ("0.0", "unattributed"), ("1.0", "(total)"),
    ]


def test_cells_hold_the_values_and_empty_means_not_measured():
    total, pod_a, pod_b, _, quiet = parsed(exports.samples_csv(seconds()))
    assert [total[c] for c in ("requests", "rps", "p95_ms", "max_ms", "users")] == ["9", "9.0", "3.5", "7.25", "10"]
    assert total["cpu"] == total["ready"] == ""  # pod figures are not on the totals row
    assert [pod_b[c] for c in ("requests", "failures", "cpu", "memory_bytes", "ready")] == ["4", "1", "0.25", "1024", "1"]
    assert pod_a["ready"] == "0" and pod_a["cpu"] == "" and pod_a["rps"] == ""
    assert quiet["p95_ms"] == ""


def test_pod_rows_add_up_to_the_totals():
    rows = parsed(exports.samples_csv(seconds()))
    pods = [row for row in rows if row["t"] == "0.0" and row["pod"] != exports.TOTAL]
    assert sum(int(row["requests"]) for row in pods) == int(rows[0]["requests"])


def test_streamed_pieces_are_whole_lines_and_join_to_the_file():
    many = [{**seconds()[0], "t": float(t)} for t in range(1000)]  # 4000 rows: several pieces
    pieces = list(exports.samples_csv_lines(many))
    assert len(pieces) > 1 and all(piece.endswith("\n") for piece in pieces)
    assert "".join(pieces) == exports.samples_csv(many)
    assert len(parsed("".join(pieces))) == 4000


def test_no_seconds_is_just_the_header():
    assert exports.samples_csv([]) == ",".join(exports.SAMPLE_COLUMNS) + "\n"


def test_a_pod_name_a_spreadsheet_would_run_is_quoted():
    rows = parsed(exports.samples_csv([{**seconds()[1], "pods": {"=HYPERLINK(1)": {"requests": 1}}}]))
    assert rows[1]["pod"] == "'=HYPERLINK(1)"


def test_filename():
    assert exports.filename(12, "samples.csv") == "lblab-run-12-samples.csv"
