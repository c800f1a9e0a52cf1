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
