"""The console script's entry: answer an unchanged `report --json` from its memo, else run
the command line. Kept tiny: it is imported on every start."""

from __future__ import annotations

import os
import sys
import time


def main(argv: list[str] | None = None) -> None:
    """`agentwatch ...`"""
    args = sys.argv[1:] if argv is None else argv
    from agentwatch.infra import memo  # noqa: PLC0415

    try:
        data = memo.replay(args, os.environ, os.getcwd(), time.time())
    except Exception:  # noqa: BLE001 (a memo is only ever a shortcut)
        data = None
    if data is not None:
        try:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    from agentwatch.cli import main as run  # noqa: PLC0415

    run(args)
