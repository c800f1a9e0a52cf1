"""Which pods a run is judged over, from its target alone (no cluster needed, so the run driver
and every replay of its seconds get the same set): the declared or started pods and those seen,
then placeholders up to the expected count, named so they cannot be taken for a real pod."""

from clusters.balance import ExpectedPods
from clusters.targets import TargetSpec, target_kind


def expected(**spec) -> ExpectedPods:
    return target_kind(spec["kind"]).expected_pod_set(TargetSpec(**spec))


def test_a_url_target_expecting_three_pods_where_two_answer():
    pods = expected(kind="url", base_url="http://127.0.0.1:1", expected_pod_count=3)
    assert pods.judged(["pod-1-abcde", "pod-0-fghij"]) == ["pod-0-fghij", "pod-1-abcde", "expected-3 (no response)"]
    assert pods.judged([]) == ["expected-1 (no response)", "expected-2 (no response)", "expected-3 (no response)"]


def test_a_sandbox_expects_the_pods_it_starts_and_more_when_asked():
    assert expected(kind="sandbox", pods=2).judged(["pod-0-a"]) == ["pod-0-a", "expected-2 (no response)"]
    three = expected(kind="sandbox", pods=2, expected_pod_count=3)
    assert three.judged(["pod-0-a", "pod-1-b"]) == ["pod-0-a", "pod-1-b", "expected-3 (no response)"]


def test_declared_names_are_judged_from_the_start_and_more_pods_seen_are_added():
    pods = expected(kind="url", base_url="http://127.0.0.1:1", expected_pods=("web-a", "web-b"))
    assert pods.judged([]) == ["web-a", "web-b"]
    assert pods.judged(["web-c", "unattributed"]) == ["web-a", "web-b", "web-c"]


def test_shares_follow_the_targets_weights_by_slot():
    pods = expected(kind="sandbox", pods=2, weights={"pod-0": 3.0, "pod-1": 1.0})
    judged = pods.judged(["pod-0-a", "pod-1-b"])
    assert pods.shares(judged) == {"pod-0-a": 3.0, "pod-1-b": 1.0}
    assert expected(kind="sandbox", pods=2).shares(judged) is None


def test_a_replaced_pod_is_judged_until_the_window_after_its_replacement_appeared():
    # pod-1-a killed; pod-1-b replaced it and was first seen in second 6 (a sandbox of 3 pods)
    pods = expected(kind="sandbox", pods=3).with_replacements({"pod-1-a": "pod-1-b"})
    first_seen = {"pod-0-x": 0, "pod-1-a": 0, "pod-2-y": 0, "pod-1-b": 6}
    # before the replacement: the pods that serve; the window that holds its arrival: both names
    assert pods.window_pods(first_seen, 0, 5) == ["pod-0-x", "pod-1-a", "pod-2-y"]
    assert pods.window_pods(first_seen, 0, 10) == ["pod-0-x", "pod-1-a", "pod-1-b", "pod-2-y"]
    assert pods.window_pods(first_seen, 5, 15) == ["pod-0-x", "pod-1-a", "pod-1-b", "pod-2-y"]
    # a window that starts once the replacement is there judges it with the live pods only
    assert pods.window_pods(first_seen, 6, 16) == ["pod-0-x", "pod-1-b", "pod-2-y"]
    # over the whole run the two names are one expected pod, counted under the latest
    assert pods.run_pods(first_seen) == ["pod-0-x", "pod-1-b", "pod-2-y"]
    assert pods.merged({"pod-0-x": 30, "pod-1-a": 12, "pod-1-b": 17, "pod-2-y": 30}) == {
        "pod-0-x": 30, "pod-1-b": 29, "pod-2-y": 30}


def test_a_pod_replaced_twice_is_counted_under_its_last_name_and_a_missing_one_stays_expected():
    pods = expected(kind="sandbox", pods=2).with_replacements({"pod-0-a": "pod-0-b"}).with_replacements(
        {"pod-0-b": "pod-0-c"})
    assert pods.retired(["pod-0-a", "pod-0-c", "pod-1-z"]) == {"pod-0-a", "pod-0-b"}
    assert pods.merged({"pod-0-a": 5, "pod-0-b": 4, "pod-0-c": 3, "pod-1-z": 12}) == {"pod-0-c": 12, "pod-1-z": 12}
    # replaced, but the replacement never appeared (the run ended first): the pod is still expected
    assert pods.run_pods(["pod-0-a", "pod-1-z"]) == ["pod-0-a", "pod-1-z"]
    # a URL target's declared count is untouched when nothing is replaced
    url = expected(kind="url", base_url="http://127.0.0.1:1", expected_pod_count=3).with_replacements({})
    assert url.window_pods({"web-a": 0}, 0, 10) == ["web-a", "expected-2 (no response)", "expected-3 (no response)"]
