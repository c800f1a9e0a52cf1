"""Starting and stopping child processes: the sandbox, Locust, `make run`'s runner, the benchmarks.

Rules (ARCHITECTURE.md sections 1 and 5): a child never outlives the command that started
it, even when that command is SIGKILLed, and it is stopped by process group (or by PID),
never by name. Two mechanisms make that true:

- a child runs in a process group of its own (its pid is the group id), so one `killpg`
  reaches it and everything it started, and a terminal's Ctrl-C reaches only the command,
  which then stops its children in order;
- a child gets a parent-death signal (prctl PR_SET_PDEATHSIG). The kernel sends it when
  the *thread* that forked the child exits, so a child that must outlive a short-lived
  caller thread is started from a thread that lives as long as the child does.

`start()` arms the signal between fork and exec, which works for any program.
`start_python_module()` is for this project's own Python children that arm it themselves
(`die_with_parent()`, first thing in their `main`): no Python runs between fork and exec,
which keeps spawning safe from an event loop such as the sandbox controller's.

Django-free, like the rest of `clusters/`.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

PR_SET_PDEATHSIG = 1
# The pid of the process that spawned us: lets a Python child notice that its parent died
# in the window between fork and its own prctl call (the signal would then never come).
PARENT_ENV = "LBLAB_SANDBOX_PARENT_PID"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Resolved once, in the parent: between fork and exec a child of a threaded parent must not
# dlopen or read os.environ, only make this one call.
_LIBC = ctypes.CDLL(None, use_errno=True)
_PRCTL = _LIBC.prctl


# Starting.
def start(argv: Sequence[str], *, death_signal: int = signal.SIGKILL, stdin=None, stdout=None, stderr=None,
          env: dict[str, str] | None = None, cwd: str | os.PathLike | None = None, pass_fds: Sequence[int] = (),
          text: bool = False, own_group: bool = True) -> subprocess.Popen:
    """Start `argv` in a process group of its own; it gets `death_signal` when the calling
    thread exits. stdin/stdout/stderr/env/cwd/pass_fds/text are Popen's. With `own_group=False`
    it stays in our process group (the sandbox controller's nginx or HAProxy, which a `killpg` of
    the controller's group must reach): then stop it by PID (`signal_pid`)."""
    return subprocess.Popen(
        list(argv), stdin=stdin, stdout=stdout, stderr=stderr, env=env, cwd=cwd, pass_fds=tuple(pass_fds),
        text=text, process_group=0 if own_group else None,
        preexec_fn=_dying_with(int(death_signal), os.getpid()))


def _dying_with(sig: int, parent_pid: int):
    """preexec_fn: `sig` when the spawning thread exits; exit now if the parent is already gone."""

    def preexec():
        _PRCTL(PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent_pid:
            os._exit(1)

    return preexec


def start_python_module(module: str, *args: str, own_group: bool = True, stdin=None, stdout=None,
                        pass_fds: Sequence[int] = ()) -> subprocess.Popen:
    """Start `python -m module *args`, a module of this project whose `main` calls
    `die_with_parent()` first thing, with `child_env()`. With `own_group=False` it stays in
    our process group, so a `killpg` of ours reaches it: then stop it by PID (`signal_pid`)."""
    return subprocess.Popen(
        python_module_cmd(module, *args), stdin=stdin, stdout=stdout, pass_fds=tuple(pass_fds),
        env=child_env(), process_group=0 if own_group else None)


def run(argv: Sequence[str], *, timeout: float | None = None,
        death_signal: int = signal.SIGKILL) -> subprocess.CompletedProcess:
    """`subprocess.run(argv, capture_output=True, text=True, timeout=timeout)` with `start()`'s
    process group and parent-death signal; the group is killed when it returns or raises."""
    with start(argv, death_signal=death_signal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        try:
            stdout, stderr = child.communicate(timeout=timeout)
        finally:
            # A timeout or Ctrl-C: the child goes now; a normal end: whatever it left running.
            kill(child)
    return subprocess.CompletedProcess(list(argv), child.returncode, stdout, stderr)


# Stopping. Children given to stop() and kill() lead their own process group (start()).
def stop(*children: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM each child's group, wait up to `grace_s` (one deadline for all), then SIGKILL
    each group (what ignored SIGTERM, and whatever the child started) and reap the children."""
    for child in children:
        if child.poll() is None:
            signal_group(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for child in children:
        reap(child, max(0.1, deadline - time.monotonic()))
    kill(*children)


def kill(*children: subprocess.Popen, reap_timeout_s: float | None = None) -> None:
    """SIGKILL each child's group, then reap each child (waiting up to `reap_timeout_s` for
    each, for ever when None)."""
    for child in children:
        signal_group(child.pid, signal.SIGKILL)
    for child in children:
        reap(child, reap_timeout_s)


def reap(child: subprocess.Popen, timeout: float | None) -> int | None:
    """Wait up to `timeout` seconds (for ever when None) for `child`: its exit code, None if it still runs."""
    try:
        return child.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def signal_pid(pid: int, sig: int) -> bool:
    """Send `sig` to one process; False when it is already gone."""
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to a whole process group we own; False when the group is empty, or when
    its id has passed to another user's group (not ours to signal)."""
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


# In the child.
def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Call first thing in a child started by `start_python_module()`: get `sig` when the
    spawning thread exits; exit now if the parent is already gone."""
    if _PRCTL(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    expected = os.environ.get(PARENT_ENV)
    if expected and os.getppid() != int(expected):
        os._exit(1)


def run_loop(main) -> None:
    """Run a child's `main()` (a coroutine) on uvloop when importable: the sandbox's
    balancer and pods are loop-bound."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is in requirements.txt
        import asyncio

        asyncio.run(main())
        return
    uvloop.run(main())


# Environments and commands.
def with_project_on_path(env: dict[str, str]) -> dict[str, str]:
    """`env` with the project first on PYTHONPATH: a child runs its modules from any cwd."""
    path = env.get("PYTHONPATH")
    return {**env, "PYTHONPATH": f"{PROJECT_ROOT}{os.pathsep}{path}" if path else str(PROJECT_ROOT)}


def child_env() -> dict[str, str]:
    """Environment for a Python child of this project: ours, the project importable, and our
    pid for `die_with_parent()`'s check."""
    return {**with_project_on_path(dict(os.environ)), PARENT_ENV: str(os.getpid())}


def python_module_cmd(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on at `host` now, for a process about to be started on it (Locust's
    master, a real balancer in front of the sandbox)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def log_tail(*paths: Path, lines: int = 5) -> str:
    """The last non-blank lines of a child's log files (read in the order given), joined by " | ":
    what an error about the child quotes of what it said."""
    said: list[str] = []
    for path in paths:
        try:
            said += [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            pass
    return " | ".join(said[-lines:]) or "(nothing logged)"
