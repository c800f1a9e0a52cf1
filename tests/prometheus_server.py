"""A real Prometheus (Debian's; `make test` installs it) for the tests that need one: it scrapes
the given targets every second from a config of its own, in a process group of its own."""

from __future__ import annotations

import json
import shutil
import time
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

from clusters import procs

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


class Prometheus:
    """A real Prometheus scraping `targets` every second, on a free loopback port, stopped by its group."""

    def __init__(self, workdir: Path, *, jobs: dict[str, list[str]], rules: Path | None = None):
        self.port = procs.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                  "rule_files": [str(rules)] if rules else [],
                  "scrape_configs": [{"job_name": job, "static_configs": [{"targets": targets}]}
                                     for job, targets in jobs.items()]}
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = open(workdir / "prometheus.log", "w")  # noqa: SIM115 - closed in close()
        self.process = procs.start([PROMETHEUS, f"--config.file={workdir / 'prometheus.yml'}",
                                    f"--storage.tsdb.path={workdir / 'data'}",
                                    f"--web.listen-address=127.0.0.1:{self.port}"], stdout=self.log, stderr=self.log)

    def query(self, expr: str) -> list[dict]:
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=5) as response:
            payload = json.load(response)
        assert payload["status"] == "success", payload
        return payload["data"]["result"]

    def wait_for(self, expr: str, *, count: int = 1, timeout: float = 60.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                result = self.query(expr)
                if len(result) >= count:
                    return result
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"{expr}: fewer than {count} series after {timeout} s")

    def close(self) -> None:
        procs.stop(self.process, grace_s=5)
        self.log.close()

    def __enter__(self) -> Prometheus:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
