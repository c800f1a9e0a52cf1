"""`LocustProcess`: run the LB Lab Locust plugin as subprocesses and read its lines.

Django-free and Locust-free (gevent must never be imported where Django runs):

    with LocustProcess(config, workers=2) as locust_run:
        locust_run.start()
        while True:
            for line in locust_run.poll(1.0):      # {"type": "clock" | "sample" | "final" | "error", ...}
                ...
            if stop_requested:
                locust_run.stop(grace_s=10)        # SIGTERM: users stop, last sample + final
    # leaving the block (or close()) kills whatever is left, by process group

Processes: with `workers=1` one local Locust process; with W > 1 a master and W workers, or,
given `worker_pods` (clusters/kubernetes/locust_workers.py: LB Lab runs in a cluster), the master
here and the W workers as the pods of a Kubernetes Job, created once the master listens and deleted
when this object closes.
Each runs in its own process group and gets SIGKILL from the kernel when the thread that
started it dies (clusters.procs.start), so no load survives a dead caller: they are
started from a thread of this object's own that lives until `close()`.

Result lines travel over a pipe whose write end is passed to the master only (env
`LBLAB_RESULTS_FD`), not over stdout, which Locust fills with its own output; stdout
and stderr of every process go to `log_path`. If the master ends without a `final` or
`error` line (a crash, a kill), `poll()` returns a synthesized
`{"type": "error", "message": "... last log lines ..."}`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from clusters import procs
from tests_app.engine.config import CONFIG_ENV, parse_config
from tests_app.engine.stats import nothing_sent_lines

LOCUSTFILE = Path(__file__).resolve().with_name("locustfile.py")
RESULTS_FD_ENV = "LBLAB_RESULTS_FD"
ARMED_ENV = "LBLAB_ARMED_FILE"
PROCESSES_ENV = "LBLAB_LOCUST_PROCESSES"
KILL_WAIT_S = 5.0
EXIT_AFTER_FINAL_S = 1.0
LOCAL_WORKERS_WAIT_S = 60  # how long the master waits for its workers: local processes start in seconds
POD_WORKERS_WAIT_S = 180  # pods may first be scheduled and pull the image
# A worker Job outlives the run's shape by at most this long (its activeDeadlineSeconds), whatever
# happens to the master: a stop's grace, the slowest start.
POD_DEADLINE_MARGIN_S = 600

log = logging.getLogger(__name__)

class LocustProcess:
    """One Locust run as subprocesses. `config` is the plugin config (tests_app/engine/config.py);
    it is validated here and a bad one raises `ConfigError(field=...)` before anything starts.
    `worker_pods` runs the W > 1 workers as pods instead of local processes (`LocustWorkerJob`)."""

    def __init__(self, config: dict, *, workers: int = 1, locust_bin: str | None = None,
                 workdir: str | None = None, worker_pods=None):
        self.run_config = parse_config(config)
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError("workers must be a whole number >= 1")
        self.config = dict(config)
        self.workers = workers
        self.worker_pods = worker_pods if workers > 1 else None
        self.locust_cmd = [locust_bin] if locust_bin else [sys.executable, "-m", "locust"]
        # Requests in flight at stop get this long to finish (they are counted).
        self.stop_timeout_s = float(self.run_config.timeout_s) + 1.0
        self._own_workdir = workdir is None
        self._workdir_arg = workdir
        self.workdir: Path | None = None
        self.log_path: Path | None = None
        self.config_path: Path | None = None
        self._master: subprocess.Popen | None = None
        self._workers: list[subprocess.Popen] = []
        self._lines: queue.Queue = queue.Queue()
        self._read_fd: int | None = None
        self._reader: threading.Thread | None = None
        self._owner: threading.Thread | None = None
        self._release = threading.Event()
        self._spawned = threading.Event()
        self._spawn_error: BaseException | None = None
        self._ended = False  # a final or error line was read (or made up by stop())
        self._armed_path: Path | None = None
        self._ended_event = threading.Event()  # ... and the reader has queued it
        self._closing = False
        self._closed = False
        self._started = False

    # Life cycle.
    def start(self) -> None:
        if self._started:
            raise RuntimeError("already started")
        self._started = True
        self.workdir = Path(self._workdir_arg or tempfile.mkdtemp(prefix="lblab-locust-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "config.json"
        self.config_path.write_text(json.dumps(self.config))
        self.log_path = self.workdir / "locust.log"
        self._armed_path = self.workdir / "armed"
        self._owner = threading.Thread(target=self._own_processes, name="lblab-locust", daemon=True)
        self._owner.start()
        self._spawned.wait()
        if self._spawn_error is not None:
            error = self._spawn_error
            self.close()
            raise error
        self._reader = threading.Thread(target=self._read_lines, name="lblab-locust-reader", daemon=True)
        self._reader.start()

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
        env.pop(RESULTS_FD_ENV, None)
        env[CONFIG_ENV] = str(self.config_path)
        env[PROCESSES_ENV] = str(self.workers)
        env["PYTHONUNBUFFERED"] = "1"
        return procs.with_project_on_path(env)

    def _commands(self) -> tuple[list[str], list[list[str]]]:
        files = str(LOCUSTFILE)
        user_file = self.run_config.locustfile
        if user_file is not None:
            # The plugin first: Locust runs the first file's shape (the plugin's driver), and the
            # driver hands the user file's own shape, if any, the users.
            files += "," + user_file.path
        base = [*self.locust_cmd, "-f", files]
        classes = list(user_file.user_classes) if user_file is not None else []
        master = [*base, "--headless", "--host", self.run_config.host, "--only-summary",
                  "--stop-timeout", f"{self.stop_timeout_s:g}", "--exit-code-on-error", "0"]
        if self.workers == 1:
            return [*master, *classes], []
        self.master_port = port = procs.free_port()
        pods = self.worker_pods
        wait_s = POD_WORKERS_WAIT_S if pods is not None else LOCAL_WORKERS_WAIT_S
        master += ["--master", "--expect-workers", str(self.workers), "--expect-workers-max-wait", str(wait_s),
                   "--master-bind-host", pods.bind_host if pods is not None else "127.0.0.1",
                   "--master-bind-port", str(port)]
        if pods is not None:
            return [*master, *classes], []
        worker = [*base, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port), *classes]
        return [*master, *classes], [list(worker) for _ in range(self.workers)]

    def _start_worker_pods(self) -> None:
        """The workers' Job, once the master listens: the plugin's config and the user's file go with it."""
        user_file = self.run_config.locustfile
        locustfile = None
        if user_file is not None:
            locustfile = (Path(user_file.path).name, Path(user_file.path).read_text(encoding="utf-8"))
        self.worker_pods.create(
            workers=self.workers, master_port=self.master_port, config=self.config, locustfile=locustfile,
            user_classes=tuple(user_file.user_classes) if user_file is not None else (),
            deadline_s=int(self.run_config.shape.duration_s + self.stop_timeout_s + POD_WORKERS_WAIT_S
                           + POD_DEADLINE_MARGIN_S))

    def _own_processes(self) -> None:
        """Spawns every process and stays alive as long as they should: its exit is their
        parent-death signal."""
        write_fd = None
        try:
            master_cmd, worker_cmds = self._commands()
            env = self._env()
            read_fd, write_fd = os.pipe()
            self._read_fd = read_fd
            with open(self.log_path, "ab", buffering=0) as log:
                master_env = dict(env, **{RESULTS_FD_ENV: str(write_fd), ARMED_ENV: str(self._armed_path)})
                self._master = procs.start(
                    master_cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=master_env,
                    cwd=self.workdir, pass_fds=(write_fd,))
                for cmd in worker_cmds:
                    self._workers.append(procs.start(
                        cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, cwd=self.workdir))
            if self.worker_pods is not None:
                self._start_worker_pods()
        except BaseException as exc:  # reported by start(), which raises it
            self._spawn_error = exc
        finally:
            if write_fd is not None:
                os.close(write_fd)  # only the master holds it now: EOF when it exits
            self._spawned.set()
        self._release.wait()

    def _read_lines(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._read_fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buffer += chunk
            while b"\n" in buffer:
                raw, buffer = buffer.split(b"\n", 1)
                if not raw.strip():
                    continue
                try:
                    line = json.loads(raw)
                except ValueError:
                    line = {"type": "error", "message": f"unreadable line from locust: {raw[:200]!r}"}
                self._lines.put(line)
                if line.get("type") in ("final", "error"):
                    self._ended = True
                    self._ended_event.set()
        master = self._master
        code = None
        if master is not None:
            code = procs.reap(master, KILL_WAIT_S)
        if not self._ended and not self._closing:
            self._ended = True
            self._lines.put({"type": "error",
                             "message": f"locust exited (code {code}) without a final line; log: {self.log_tail(8)}"})
        self._ended_event.set()

    def poll(self, timeout: float = 0.0) -> list[dict]:
        """The lines that arrived; waits up to `timeout` seconds for the first one."""
        out = []
        try:
            out.append(self._lines.get(timeout=timeout) if timeout > 0 else self._lines.get_nowait())
        except queue.Empty:
            return out
        while True:
            try:
                out.append(self._lines.get_nowait())
            except queue.Empty:
                return out

    def stop(self, grace_s: float = 10.0) -> None:
        """Ask Locust to stop (SIGTERM to the master's group: users stop, requests in flight
        finish, the last sample and the final line are written); after `grace_s` SIGKILL
        every group. Give `grace_s` more than the config's `timeout_s` for a clean flush."""
        master = self._master
        if master is None:
            return
        if master.poll() is None and not self._armed_path.exists():
            # Locust is still starting (its SIGTERM would kill it without a word) and has sent
            # nothing: end it now and say so in the plugin's own terms.
            if not self._ended:
                self._ended = True
                for line in nothing_sent_lines(self.run_config.expected_pods, self.run_config.endpoints):
                    self._lines.put(line)
                self._ended_event.set()
        elif master.poll() is None:
            procs.signal_group(master.pid, signal.SIGTERM)
            # Once the final line is out nothing of value is left: give Locust a moment to
            # exit by itself (its shutdown takes a second or two), then kill.
            deadline = time.monotonic() + grace_s
            while master.poll() is None and time.monotonic() < deadline:
                if self._ended_event.wait(min(0.1, max(0.0, deadline - time.monotonic()))):
                    procs.reap(master, min(EXIT_AFTER_FINAL_S, max(0.0, deadline - time.monotonic())))
                    break
        self._kill_all()

    def _kill_all(self) -> None:
        procs.kill(*(p for p in (self._master, *self._workers) if p is not None), reap_timeout_s=KILL_WAIT_S)

    @property
    def exited(self) -> bool:
        """True once the master (or the single process) has exited."""
        return self._master is not None and self._master.poll() is not None

    @property
    def returncode(self) -> int | None:
        return None if self._master is None else self._master.poll()

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in (self._master, *self._workers) if p is not None]

    def log_tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 16384))
            text = handle.read().decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def close(self) -> None:
        """Kill every process left (no flush: call stop() first for that), free everything.
        Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._closing = True
        try:
            self._kill_all()
            self._delete_worker_pods()
        finally:
            self._release.set()
            if self._owner is not None:
                self._owner.join(KILL_WAIT_S)
            if self._reader is not None:
                self._reader.join(KILL_WAIT_S)
            if self._read_fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._read_fd)
                self._read_fd = None
            if self._own_workdir and self.workdir is not None:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def _delete_worker_pods(self) -> None:
        if self.worker_pods is None:
            return
        try:
            self.worker_pods.delete()
        except Exception as error:  # noqa: BLE001 - the rest must still close; the reaper tries again
            log.error("deleting the Locust worker pods failed: %s", error)

    def __enter__(self) -> LocustProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):  # pragma: no cover - last resort, close() is the contract
        with contextlib.suppress(Exception):
            if not self._closed and self._started:
                self._kill_all()
