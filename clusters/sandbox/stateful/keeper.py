"""A Patroni node's keeper: the one process LB Lab starts per node, so the node's PostgreSQL goes
when the node does.

Patroni starts its postmaster the way `pg_ctl` does: through a helper that calls setsid() and exits,
leaving the postmaster to init, in a session of its own. Neither the parent-death signal nor a
`killpg` of Patroni's group reaches it, so a SIGKILLed owner would leave PostgreSQL running. The
keeper is a child subreaper (prctl PR_SET_CHILD_SUBREAPER): the orphaned postmaster becomes the
keeper's child, and the keeper stops it by its process group (the session the start helper made,
which every backend of the server is in).

    python -m clusters.sandbox.stateful.keeper --log FILE [--user postgres] -- patroni config.yml

- SIGTERM (a clean stop, procs.stop): passed to Patroni, which stops PostgreSQL cleanly and gives
  up the leader key; once Patroni exits, whatever it left (a postmaster) is SIGKILLed by group.
- Its parent-death signal (SIGUSR1, armed by procs.start: the owner is gone) and Patroni's own
  death: everything of the node is SIGKILLed at once, as a crashed machine would lose it.

`--user`: Patroni and its PostgreSQL run as that user (PostgreSQL refuses to run as root); the
keeper stays the caller's, so it may signal them. Django-free; imports nothing of the project but
procs.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import pwd
import signal
import subprocess
import sys
import time

from clusters import procs

PR_SET_CHILD_SUBREAPER = 36
OWNER_GONE = signal.SIGUSR1
POLL_S = 0.05


def adopted_children() -> list[int]:
    """The PIDs whose parent is this process now (Patroni, and what was orphaned to us)."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:  # fields after "(comm)": state, ppid, ...
            found.append(int(entry))
    return found


def kill_adopted() -> None:
    """SIGKILL every child's process group when it is not ours (a postmaster's: the session its
    start helper made), then the child, and reap."""
    ours = os.getpgrp()
    for pid in adopted_children():
        try:
            group = os.getpgid(pid)
        except ProcessLookupError:
            continue
        if group != ours:
            procs.signal_group(group, signal.SIGKILL)
        procs.signal_pid(pid, signal.SIGKILL)
    reap_all()


def reap_all() -> list[tuple[int, int]]:
    """Reap every child that has exited, without waiting: (pid, status) each."""
    reaped = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped.append((pid, status))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="keeper")
    parser.add_argument("--log", required=True)
    parser.add_argument("--user", default="")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args(argv)
    wanted: list[int] = []
    signal.signal(signal.SIGTERM, lambda sig, frame: wanted.append(sig))
    signal.signal(OWNER_GONE, lambda sig, frame: wanted.append(sig))
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")
    # Patroni runs on Debian's Python with its own packages: none of this project's environment.
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", procs.PARENT_ENV)}
    options = {}
    if args.user:
        account = pwd.getpwnam(args.user)
        options = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        env |= {"HOME": account.pw_dir, "USER": args.user, "LOGNAME": args.user}
    with open(args.log, "ab") as log:
        patroni = subprocess.Popen(args.command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   env=env, **options)
    code = None
    while code is None:
        if OWNER_GONE in wanted:
            break
        if signal.SIGTERM in wanted:
            wanted.remove(signal.SIGTERM)
            procs.signal_pid(patroni.pid, signal.SIGTERM)
        for pid, status in reap_all():
            if pid == patroni.pid:
                code = os.waitstatus_to_exitcode(status)
        time.sleep(POLL_S)
    if code is None:  # still running (not reaped: the PID is still Patroni's)
        procs.signal_pid(patroni.pid, signal.SIGKILL)
    kill_adopted()
    return code if code is not None else 1


if __name__ == "__main__":
    sys.exit(main())
