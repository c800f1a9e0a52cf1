"""A run keeps at most MAX_DISTINCT_PODS pod names: a target that answers with a new name per
request cannot grow the generator's memory, its lines or the run's rows. The names past the cap
are counted together as OTHER_PODS, and the samples still add up to the final line."""

from clusters.balance import MAX_DISTINCT_PODS, OTHER_PODS
from tests_app.engine.stats import Aggregator, PodNames, Window
from tests_app.engine.testing import sum_samples


def test_names_past_the_cap_are_counted_together_and_everything_adds_up():
    names = PodNames(["expected-a"])
    aggregator = Aggregator(["expected-a"], pod_names=names)
    samples = []
    for second in range(3):
        window = Window(pod_names=names)
        for index in range(1000):
            window.record(f"pod-{second}-{index}", 0.001, failed=index % 10 == 0)
        assert len(window.pods) <= MAX_DISTINCT_PODS + 1
        samples.append(aggregator.sample(window, t=second + 1.0, users=1, active_connections=0))
    final = aggregator.final(duration_s=3.0, reason="duration")

    assert len(final["pods"]) == MAX_DISTINCT_PODS + 1 and OTHER_PODS in final["pods"]
    assert "expected-a" in final["pods"] and "pod-0-0" in final["pods"] and "pod-2-999" not in final["pods"]
    assert final["pods"][OTHER_PODS]["requests"] == 3000 - (MAX_DISTINCT_PODS - 1)
    assert all(len(sample["pods"]) == MAX_DISTINCT_PODS + 1 for sample in samples[1:])
    total = sum_samples(samples)
    assert total["requests"] == final["requests"] == 3000 and total["failures"] == final["failures"] == 300
    assert total["pods"] == {name: {"requests": pod["requests"], "failures": pod["failures"]}
                             for name, pod in final["pods"].items()}


def test_windows_counted_elsewhere_are_folded_by_the_aggregator_too():
    """A master merges its workers' windows, each capped on its own: the run's cap still holds."""
    aggregator = Aggregator()
    for worker in range(2):
        window = Window()  # a worker's own names
        for index in range(MAX_DISTINCT_PODS):
            window.record(f"worker-{worker}-{index}", 0.001, failed=False)
        merged = Window(pod_names=aggregator.pod_names)
        merged.merge_wire(window.to_wire())
        aggregator.sample(merged, t=worker + 1.0, users=1, active_connections=0)
    final = aggregator.final(duration_s=2.0, reason="duration")
    assert len(final["pods"]) == MAX_DISTINCT_PODS + 1
    assert final["pods"][OTHER_PODS]["requests"] == MAX_DISTINCT_PODS
    assert sum(pod["requests"] for pod in final["pods"].values()) == final["requests"] == 2 * MAX_DISTINCT_PODS


def test_prometheus_counters_of_too_many_pods_are_folded_as_well():
    aggregator = Aggregator(counted_by_counters=True)
    window = Window()
    window.requests = 400
    window.pod_counts = {f"pod-{index}": 2 for index in range(MAX_DISTINCT_PODS + 50)}
    sample = aggregator.sample(window, t=1.0, users=1, active_connections=0, last=True)
    assert len(sample["pods"]) == MAX_DISTINCT_PODS + 1 and sample["pods"][OTHER_PODS]["requests"] == 100
