"""``btu-scheduler``: the command line of the BTU scheduler daemon.

Each sub-command lives in its own module exposing ``register(subparsers)``; this module
only assembles them. Exit codes: 0 success, 1 runtime failure (e.g. no daemon answered),
2 bad input or configuration.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from btu_scheduler import __version__, commands, explain, streamcmds
from btu_scheduler.demo import run as demo


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="btu-scheduler",
        description="BTU scheduler: fires Frappe background tasks on cron schedules.",
    )
    parser.add_argument("--version", action="version", version=f"btu-scheduler {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.register(sub)
    streamcmds.register(sub)
    explain.register(sub)
    demo.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`btu-scheduler fires | head`): not an error. Point stdout
        # at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
