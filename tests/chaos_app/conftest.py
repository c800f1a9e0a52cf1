"""Fixtures of the chaos tests: the sandbox of a run, asked what is still applied just before the
run closes it (after the run's own rollback and `restore()`), and its event log."""

from __future__ import annotations

import pytest

from clusters.sandbox import SandboxCluster
from tests.clusters.support import assert_no_faults


class SandboxSeen:
    """What the sandbox of each run said as the run closed it."""

    def __init__(self):
        self.left: list[str] = []  # "" when nothing was applied, else what was left
        self.events: list = []  # the sandbox's own events (clusters.base.ClusterEvent)
        self.pods: list = []  # its pods at the end
        self.retries: list[int] = []  # its balancer's retries, each run


@pytest.fixture
def sandbox_at_close(monkeypatch) -> SandboxSeen:
    seen = SandboxSeen()
    close = SandboxCluster.close

    def checked_close(self):
        if not self._closed and self._proc is not None and self._proc.poll() is None:
            try:
                assert_no_faults(self)
                seen.left.append("")
            except AssertionError as error:
                seen.left.append(str(error))
            seen.events = self.events(0)
            seen.pods = self.pods()
            seen.retries.append(self.client.retries())
        close(self)

    monkeypatch.setattr(SandboxCluster, "close", checked_close)
    return seen
