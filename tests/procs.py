"""Whether a process the tests started is still running."""

import psutil


def alive(pid: int) -> bool:
    # A zombie has exited: only its parent has not reaped it yet. The process may also go between
    # two psutil calls, so one call answers and its NoSuchProcess means gone.
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
