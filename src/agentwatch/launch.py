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
        sys.exit(_write(data))
    from agentwatch.cli import main as run  # noqa: PLC0415

    run(args)


def _write(data: bytes) -> int:
    """Print a replayed document; the exit code, with one line on stderr for a failure (as
    the full command would give)."""
    try:
        out = sys.stdout.buffer
        out.write(data)
        out.flush()
    except BrokenPipeError:  # a reader that stopped early (`| head`): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return 130
    except (AttributeError, OSError, ValueError) as exc:  # no stdout, a full disk
        sys.stderr.write(f"agentwatch: cannot write the report: {exc}\n")
        return 1
    return 0
