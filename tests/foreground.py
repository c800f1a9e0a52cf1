"""A foreground command (`manage.py sandbox`, `python -m clusters.sandbox`) as a terminal runs it, and
waiting for it to stop after Ctrl-C, saying where it hung when it does not: the command runs with
`-X faulthandler`, so a SIGABRT makes it print every thread's stack to its stderr (a file: a pipe
nobody reads could block it) before it dies."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

FAULTHANDLER = ("-X", "faulthandler")


@contextmanager
def sigint_as_in_a_terminal() -> Iterator[None]:
    """Commands started inside get SIGINT as a terminal's foreground command has it. A process that
    ignores SIGINT passes that on to what it starts (a shell's background job, `make test &`, ignores
    it), and Python then installs no Ctrl-C handler: the command could not be stopped by Ctrl-C, as
    it should not be there. A handler set here is not passed on (exec resets it to the default)."""
    ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def exit_code(process: subprocess.Popen, timeout: float, stderr: Path) -> int:
    """`process`'s exit code; the test fails with its threads' stacks if it is still running after
    `timeout` seconds."""
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            pass
        pytest.fail(f"still running {timeout:g} s after Ctrl-C; its stderr, the stacks last:\n"
                    f"{stderr.read_text(errors='replace')[-8000:]}")
