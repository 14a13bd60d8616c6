"""`agentwatch demo` (CLI_CONTRACT section 1); registered on `cli` on import."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING

import click

from agentwatch.cli import cli

if TYPE_CHECKING:
    from agentwatch.ui.app import AgentwatchApp


@cli.command()
@click.option("--theme", metavar="NAME", help="TUI theme (default: the one in your config).")
def demo(theme: str | None = None) -> None:
    """The live view over simulated agents: see what agentwatch does in seconds.

    Five Claude Code sessions (sub-agents, compaction, an older version streaming placeholder
    counts) and a Codex session with a sub-agent write realistic logs into a temporary folder
    (agentwatch-demo-* in the system temp dir), removed on exit. Within a minute the
    billing-svc session falls into a loop (the same failing test, again and again) and raises
    an alert; its agent is a harmless dummy process you can stop from the view: select the
    row, press k, confirm with y. Your own agent logs and agentwatch's index are never read
    or touched (only your theme choice is read). Quit with q.
    """
    if not sys.stderr.isatty() or not sys.stdin.isatty():  # Textual draws on stderr
        raise click.UsageError("the demo needs a terminal (it opens the live view)")
    run_demo(theme)


def run_demo(theme: str | None) -> None:
    """Create the demo's folder, run the live view over it, and remove everything after."""
    from agentwatch.infra.config import load  # noqa: PLC0415
    from agentwatch.infra.demo import Demo  # noqa: PLC0415
    from agentwatch.infra.feed import Feed  # noqa: PLC0415
    from agentwatch.infra.paths import app_dirs  # noqa: PLC0415
    from agentwatch.ui.app import make_app  # noqa: PLC0415 (Textual only for the TUI)

    theme = theme or load(app_dirs().config_file).theme  # read only: the demo saves nothing
    with Demo.create() as sim:
        sim.start()
        ws = sim.workspace()
        app = make_app(
            ws,
            feed=lambda deliver: Feed(ws, deliver, processes=sim.processes),
            theme=theme,
            banner=(
                f"DEMO · simulated agents in {sim.root} (removed on exit) · billing-svc will "
                "loop: select it, press k and confirm to stop its dummy agent"
            ),
        )
        with _exit_on_signals(app, on_stuck=sim.close):
            app.run()


EXIT_GRACE = 3.0
"""Seconds the app gets to quit after SIGTERM/SIGHUP before the demo cleans up and leaves."""


@contextlib.contextmanager
def _exit_on_signals(
    app: AgentwatchApp, on_stuck: Callable[[], None] | None = None
) -> Iterator[None]:
    """SIGTERM or SIGHUP (a closed terminal) quit the app normally, so the folder and the dummy
    agent are cleaned up; the handler only sets an event, a thread asks the app to exit."""
    asked = threading.Event()
    done = threading.Event()

    def handler(_sig: int, _frame: FrameType | None) -> None:
        asked.set()

    def relay() -> None:
        while not done.is_set():
            if asked.wait(0.2):
                with contextlib.suppress(RuntimeError):  # not running (yet or any more)
                    app.call_from_thread(app.exit)
                asked.clear()
                # A closed terminal can wedge Textual's writer on the way out: if the app has
                # not returned in time, clean up here and leave.
                if not done.wait(EXIT_GRACE) and on_stuck is not None:
                    on_stuck()
                    os._exit(129)

    sigs = [signal.SIGTERM, signal.SIGHUP]
    old = {s: signal.signal(s, handler) for s in sigs}
    thread = threading.Thread(target=relay, name="agentwatch-demo-signals", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        for s, h in old.items():
            signal.signal(s, h)
