"""The tuner's requests in flight per slot over a second: from the time the pods count their
answered requests spent with them (Little's law: every request counted) where they do, else the
mean of the gauge's snapshots; and of those, the ones held before the servers (a latency fault)
where the pods count their requests' time at the servers too."""

from clusters.base import PodMetrics
from clusters.tuning.in_flight import InFlightMeter


def slot_of(name: str) -> str:
    return name.rsplit("-", 1)[0]  # "pod-0-ab12c" -> "pod-0"


def reading(**pods) -> dict[str, PodMetrics]:
    return {name.replace("_", "-"): PodMetrics(pod=name, **figures) for name, figures in pods.items()}


def test_the_counter_gives_the_mean_in_flight_the_snapshots_miss():
    meter = InFlightMeter(slot_of)
    meter.read(reading(pod_0_a={"in_flight": 0, "request_seconds": 10.0}), now=100.0)
    meter.read(reading(pod_0_a={"in_flight": 5, "request_seconds": 10.5}), now=100.25)
    meter.read(reading(pod_0_a={"in_flight": 0, "request_seconds": 11.0}), now=100.5)
    # 1 s of requests' time in 0.5 s: 2 in flight on average, whatever the snapshots caught (5/3)
    assert meter.take() == {"pod-0": {"in_flight": 2.0}}
    meter.read(reading(pod_0_a={"in_flight": 1, "request_seconds": 11.5}), now=101.5)
    assert meter.take() == {"pod-0": {"in_flight": 0.5}}  # the next second goes on from the last reading


def test_without_the_counter_the_snapshots_mean_and_the_queue_is_averaged_where_told():
    meter = InFlightMeter(slot_of)
    meter.read(reading(pod_0_a={"in_flight": 2, "queued": 1}, pod_1_b={"in_flight": 4}), now=1.0)
    meter.read(reading(pod_0_a={"in_flight": 4, "queued": 0}, pod_1_b={"in_flight": 0}), now=1.2)
    assert meter.take() == {"pod-0": {"in_flight": 3.0, "queued": 0.5}, "pod-1": {"in_flight": 2.0}}


def test_a_replacement_counts_for_its_slot_from_its_start():
    meter = InFlightMeter(slot_of)
    meter.read(reading(pod_0_a={"in_flight": 1, "request_seconds": 4.0}), now=0.0)
    # pod-0-a killed, its replacement pod-0-b started within the interval: all its time is new
    meter.read(reading(pod_0_b={"in_flight": 1, "request_seconds": 0.3}), now=0.5)
    assert meter.take() == {"pod-0": {"in_flight": 0.6}}
    assert meter.last == {"pod-0-b": (0.3, None)}  # the gone pod is forgotten


def test_a_single_reading_spans_nothing_and_gives_its_snapshot():
    meter = InFlightMeter(slot_of)
    meter.read(reading(pod_0_a={"in_flight": 3, "request_seconds": 1.0}), now=5.0)
    assert meter.take() == {"pod-0": {"in_flight": 3.0}}


def test_the_time_not_spent_at_the_servers_is_the_delayed_in_flight():
    meter = InFlightMeter(slot_of)
    meter.read(reading(pod_0_a={"in_flight": 3, "request_seconds": 10.0, "server_seconds": 4.0},
                       pod_1_b={"in_flight": 1, "request_seconds": 2.0}), now=0.0)
    meter.read(reading(pod_0_a={"in_flight": 3, "request_seconds": 11.5, "server_seconds": 4.25},
                       pod_1_b={"in_flight": 1, "request_seconds": 2.5}), now=0.5)
    # pod-0: 1.5 s of requests' time in 0.5 s, 0.25 s of it at its servers: 3 in flight, 2.5 held
    # before them; pod-1 does not count its servers' time: nothing said of its delay
    assert meter.take() == {"pod-0": {"in_flight": 3.0, "delayed": 2.5}, "pod-1": {"in_flight": 1.0}}
    meter.read(reading(pod_0_a={"in_flight": 1, "request_seconds": 12.0},
                       pod_1_b={"in_flight": 1, "request_seconds": 3.0}), now=1.0)
    assert meter.take() == {"pod-0": {"in_flight": 1.0}, "pod-1": {"in_flight": 1.0}}  # a reading without it


def test_the_delayed_figure_stays_between_none_and_all_in_flight_when_the_counters_are_bumped_apart():
    # a pod bumps its server seconds when a server is done and its request seconds when it answers
    # (after the store, for `/kv`), and a blackholed request is served and never answered: over an
    # interval the server seconds can grow more than the request seconds, which is no restart
    meter = InFlightMeter(slot_of)
    meter.read(reading(pod_0_a={"in_flight": 1, "request_seconds": 500.0, "server_seconds": 100.0},
                       pod_1_b={"in_flight": 1, "request_seconds": 20.0, "server_seconds": 5.0}), now=0.0)
    meter.read(reading(pod_0_a={"in_flight": 1, "request_seconds": 500.5, "server_seconds": 100.6},
                       pod_1_b={"in_flight": 1, "request_seconds": 20.5, "server_seconds": 5.0}), now=0.5)
    assert meter.take() == {"pod-0": {"in_flight": 1.0, "delayed": 0.0}, "pod-1": {"in_flight": 1.0, "delayed": 1.0}}


def test_a_pod_missing_from_one_reading_counts_from_its_last_one_not_its_start():
    meter = InFlightMeter(slot_of)
    meter.read(reading(pod_0_a={"in_flight": 1, "request_seconds": 500.0},
                       pod_1_b={"in_flight": 1, "request_seconds": 800.0}), now=0.0)
    # pod-1-b's metrics call failed at 0.5 s: it is not in that reading
    meter.read(reading(pod_0_a={"in_flight": 1, "request_seconds": 500.5}), now=0.5)
    meter.read(reading(pod_0_a={"in_flight": 1, "request_seconds": 501.0},
                       pod_1_b={"in_flight": 1, "request_seconds": 801.0}), now=1.0)
    assert meter.take() == {"pod-0": {"in_flight": 1.0}, "pod-1": {"in_flight": 1.0}}
