"""Run daphne and the django-q2 worker together in one terminal (`make run`).

Each child gets its own process group and a parent-death signal, so Ctrl-C, a
SIGTERM or even a SIGKILL of this runner leaves nothing behind. Children are stopped
by process group (SIGTERM, then SIGKILL after a grace period), never by name.
Django-free: it only starts processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from clusters.sandbox.procs import die_with_parent

GRACE_S = 10.0


def _own_group_dying_with_parent() -> None:
    """In the child, before exec: its own process group, SIGTERM when the runner dies."""
    os.setpgrp()
    die_with_parent(signal.SIGTERM)


def start(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen(argv, preexec_fn=_own_group_dying_with_parent)  # single-threaded here: preexec is safe


def stop_all(children: list[subprocess.Popen], grace_s: float = GRACE_S) -> None:
    for child in children:
        if child.poll() is None:
            try:
                os.killpg(child.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace_s
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(child.pid, signal.SIGKILL)  # the group: whatever the child started too
        except ProcessLookupError:
            pass
        child.wait()


def migrated(python: str) -> bool:
    """Whether the database has every migration (Django's own `migrate --check`): a server and a
    worker on a half-migrated database would fail on the first page or run, far from the cause."""
    check = subprocess.run([python, "manage.py", "migrate", "--check"], capture_output=True, text=True)
    return check.returncode == 0


def main(argv: list[str] | None = None) -> int:
    port = int(os.environ.get("PORT", "8000"))
    bind = os.environ.get("BIND", "127.0.0.1")
    python = sys.executable
    if not migrated(python):
        print("the database is not fully migrated: run `make migrate` (or `python manage.py migrate`)", file=sys.stderr)
        return 2
    commands = [
        [python, "-m", "daphne", "-b", bind, "-p", str(port), "lbsite.asgi:application"],
        [python, "manage.py", "qcluster"],
    ]
    stopping = False

    def on_signal(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    children = [start(command) for command in commands]
    host = "localhost" if bind in ("127.0.0.1", "0.0.0.0") else bind
    print(f"\nLB Lab is running at http://{host}:{port}/  (Ctrl-C stops it)\n", flush=True)
    exit_code = 0
    try:
        while not stopping:
            for child, command in zip(children, commands, strict=True):
                if child.poll() is not None:
                    print(f"{' '.join(command[1:3])} exited with {child.returncode}; stopping.", flush=True)
                    exit_code = child.returncode or 1
                    stopping = True
            time.sleep(0.3)
    finally:
        stop_all(children)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
