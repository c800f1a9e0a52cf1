"""A pod's name comes from the target (a header, a JSON field, a Prometheus label): it is cleaned
before it is counted, and names LB Lab gives rows itself cannot be taken."""

import pytest

from clusters.balance import OTHER_PODS, POD_NAME_MAX, TOTALS_ROW, UNATTRIBUTED, clean_pod_name


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("pod-0-x7k2p", "pod-0-x7k2p"),
        ("  pod-1 ", "pod-1"),
        ("pod\r\n-2\x00", "pod-2"),
        ("\x1b[31mred\x1b[0m", "[31mred[0m"),
        ("evil\u202etxt.exe", "eviltxt.exe"),  # a right-to-left override would reverse what is shown
        ("zero\u200bwidth", "zerowidth"),
        (UNATTRIBUTED, "unattributed (pod)"),
        ("Unattributed", "Unattributed (pod)"),
        (TOTALS_ROW, "(total) (pod)"),
        (OTHER_PODS, "(other pods) (pod)"),
        ("\x00\x01", None),
        ("   ", None),
        (None, None),
    ],
)
def test_a_pod_name_is_cleaned_before_it_is_counted(raw, cleaned):
    assert clean_pod_name(raw) == cleaned


def test_a_long_name_is_cut_to_what_a_row_keeps():
    assert clean_pod_name("p" * 300) == "p" * POD_NAME_MAX
