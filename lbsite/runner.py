"""Run daphne and the django-q2 worker together in one terminal (`make run`).

Each child gets its own process group and a parent-death signal (clusters.procs), so
Ctrl-C, a SIGTERM or even a SIGKILL of this runner leaves nothing behind. Children are
stopped by process group (SIGTERM, then SIGKILL after a grace period), never by name.
Django-free: it only starts processes.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from clusters import procs

GRACE_S = 10.0


def migrated(python: str) -> bool:
    """Whether the database has every migration (Django's own `migrate --check`): a server and a
    worker on a half-migrated database would fail on the first page or run, far from the cause."""
    check = procs.run([python, "manage.py", "migrate", "--check"])
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
    # SIGTERM when the runner dies: daphne and the worker close their database sessions.
    children = [procs.start(command, death_signal=signal.SIGTERM) for command in commands]
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
        procs.stop(*children, grace_s=GRACE_S)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
