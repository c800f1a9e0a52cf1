"""Process hygiene for everything the sandbox starts.

Rules (ARCHITECTURE.md section 5): every sandbox process dies with the process that
started it, even when that one is SIGKILLed, and is stopped by PID or process group,
never by name. Two mechanisms make that true:

- the controller runs in its own process group (its pid is the group id) and every pod
  it starts stays in that group, so one `killpg` reaches all of them;
- every child asks the kernel for a parent-death signal (prctl PR_SET_PDEATHSIG) as
  the first thing it does. The signal fires when the *thread* that forked the child
  exits, so children are always spawned from a thread that lives as long as they do.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1
# The pid of the process that spawned us: lets a child notice that its parent died in
# the short window between fork and prctl (the signal would then never come).
PARENT_ENV = "LBLAB_SANDBOX_PARENT_PID"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Call first thing in a child process: get `sig` when the spawning thread exits."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    expected = os.environ.get(PARENT_ENV)
    if expected and os.getppid() != int(expected):
        os._exit(1)


def child_env() -> dict[str, str]:
    """Environment for a sandbox child: our pid for the race check, the project importable."""
    env = dict(os.environ)
    env[PARENT_ENV] = str(os.getpid())
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = f"{PROJECT_ROOT}{os.pathsep}{path}" if path else str(PROJECT_ROOT)
    return env


def python_module_cmd(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def signal_pid(pid: int, sig: int) -> bool:
    """Send `sig` to one process; False when it is already gone."""
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to a whole process group we own; False when the group is empty."""
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False


def run_loop(main) -> None:
    """Run `main()` (a coroutine) on uvloop when importable: the balancer and the pods are loop-bound."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is in requirements.txt
        import asyncio

        asyncio.run(main())
        return
    uvloop.run(main())
