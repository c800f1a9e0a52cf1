"""`python -m clusters.sandbox --pods 4 --algorithm least_conn`: a sandbox in the foreground.

Exit 2 with a one-line reason on bad input (nothing started), 0 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys

from clusters.base import ClusterError
from clusters.sandbox.cli import add_sandbox_arguments, config_from_options, flag_for
from clusters.sandbox.cluster import run_foreground


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clusters.sandbox", description=__doc__.splitlines()[0])
    add_sandbox_arguments(parser)
    args = parser.parse_args(argv)
    try:
        config = config_from_options(vars(args))
        return run_foreground(config, echo=lambda line: print(line, flush=True))
    except ClusterError as exc:
        print(f"error: {flag_for(exc.field)}: {exc.args[0]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
