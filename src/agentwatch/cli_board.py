"""`agentwatch leaderboard` (CLI_CONTRACT section 1); registered on `cli` on import."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import click
import msgspec

from agentwatch.cli import (
    _filter,
    _load,
    _options,
    _skipped_note,
    _tz,
    _workspace,
    cli,
    common_options,
    write_out,
)
from agentwatch.core.leaderboard import By, board
from agentwatch.core.leaderboard_input import AlertMark, from_history
from agentwatch.core.records import Agent
from agentwatch.infra.export import leaderboard as export
from agentwatch.infra.export import printable

DEFAULT_SINCE = "7d"
"""The board covers the last week unless told otherwise (`--all` for the whole history)."""


def _epoch(text: str | None) -> float | None:
    return None if text is None else datetime.fromisoformat(text).timestamp()


def _marks(alerts: Iterable[Mapping[str, Any]]) -> list[AlertMark]:
    """Contract ALERT objects back to what the board needs."""
    return [
        AlertMark(
            a.get("agent_id"),
            str(a["kind"]),
            str(a["severity"]),
            datetime.fromisoformat(str(a["started_at"])).timestamp(),
            _epoch(a.get("ended_at")),
        )
        for a in alerts
    ]


@cli.command()
@common_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--since",
    metavar="WHEN",
    help=f"Calls at or after: YYYY-MM-DD, ISO time, or 7d (default {DEFAULT_SINCE}).",
)
@click.option("--until", metavar="WHEN", help="Calls before: YYYY-MM-DD, ISO time, or 12h.")
@click.option("--all", "everything", is_flag=True, help="The whole history (no default --since).")
@click.option("--project", metavar="TEXT", help="Sessions whose cwd contains TEXT.")
@click.option("--session", metavar="ID", help="One session: exact id or unique prefix (>= 6).")
@click.option("--agent", type=click.Choice([a.value for a in Agent]), help="Only this agent.")
@click.option("--model", metavar="TEXT", help="Only tokens of models whose id contains TEXT.")
@click.option("--tz", metavar="ZONE", help="Time zone for dates (default: local).")
@click.option(
    "--by",
    type=click.Choice([b.value for b in By]),
    default=By.SESSION.value,
    show_default=True,
    help="What a row is.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    metavar="N",
    help=f"Rows to show (default {export.DEFAULT_LIMIT} in the table, all with --json).",
)
@click.pass_context
def leaderboard(
    ctx: click.Context,
    /,
    as_json: bool = False,
    since: str | None = None,
    until: str | None = None,
    everything: bool = False,
    project: str | None = None,
    session: str | None = None,
    agent: str | None = None,
    model: str | None = None,
    tz: str | None = None,
    by: str = By.SESSION.value,
    limit: int | None = None,
    **common: Any,
) -> None:
    """Rank sessions by tokens, next to what the tokens produced.

    Each row shows files and lines changed, tokens per changed line, the share of tokens
    burned with no file change (idle burn), cache reuse and loop alerts. The familiar titles
    (Token Legend, Session Immortal, Model Connoisseur, Cache Wizard) sit next to honest ones
    that a looping session cannot win.
    """
    if everything and since:
        raise click.UsageError("--all and --since cannot be used together")
    ws = _workspace(_options(ctx, common))
    zone = _tz(tz)
    tally, stats = _load(ws)
    now = time.time()
    since = None if everything else (since or DEFAULT_SINCE)
    flt = _filter(ctx, since, until, project, session, agent, model, zone, tally, now)
    signals = ws.signals(tally, stats, list(tally.sessions), now)
    alerts = {k: _marks(found) for k, (_, found) in signals.items()}
    work = from_history(tally, stats.each_activity(), flt, ws.thresholds.window_s, alerts)
    b = board(work, By(by), model=flt.model, since=flt.since, until=flt.until)
    if as_json:
        doc = export.document(b, now, limit)
        write_out(msgspec.json.format(msgspec.json.encode(doc), indent=2) + b"\n", "leaderboard")
    else:
        width = shutil.get_terminal_size((160, 24)).columns
        export.render(
            b,
            width,
            lambda t: write_out(printable(t), "leaderboard"),
            limit or export.DEFAULT_LIMIT,
            zone,
            ws.thresholds.window_s,
        )
        if not b.rows and not everything:
            click.echo("Widen the period with --since 30d, or --all for the whole history.")
    _skipped_note(stats, ws)
