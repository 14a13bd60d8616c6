"""`agentwatch context SESSION`: what fills a session's context, estimated with tiktoken.

Registered on the `cli` group when agentwatch.cli imports it. Every figure it prints is an
estimate, labelled `est.`, and none of it is part of the exact totals `report` prints.
"""

from __future__ import annotations

import time
from typing import Any

import click
import msgspec

from agentwatch.cli import _load, _options, _workspace, cli, common_options, write_out
from agentwatch.core.alerts import fmt_tokens
from agentwatch.core.context import Attribution, reread_tokens
from agentwatch.core.records import ThreadKey
from agentwatch.core.status import SessionStatus
from agentwatch.core.summary import project_of, status_of
from agentwatch.core.tally import Tally
from agentwatch.infra.context import (
    SUPPORTED,
    ContextReport,
    describe,
    estimate,
    logs_of,
    summary_json,
)
from agentwatch.infra.export import printable
from agentwatch.infra.tokenizer import TokenizerError

SCHEMA_VERSION = 1


def _resolve(ctx: click.Context, tally: Tally, wanted: str) -> ThreadKey:
    """The session an exact id or a unique prefix (>= 6 characters) names."""
    keys = {k.session_id: k for k in tally.sessions}
    if wanted in keys:
        return keys[wanted]
    if len(wanted) < 6:
        raise click.BadParameter(
            "a session prefix needs at least 6 characters", param_hint="SESSION"
        )
    hits = sorted(i for i in keys if i.startswith(wanted))
    if not hits:
        click.echo(f"agentwatch: no session matches {wanted!r}", err=True)
        ctx.exit(1)
    if len(hits) > 1:
        click.echo(
            f"agentwatch: {wanted!r} matches {len(hits)} sessions: " + ", ".join(hits[:5]), err=True
        )
        ctx.exit(1)
    return keys[hits[0]]


def _alerts(
    signals: dict[ThreadKey, Any], key: ThreadKey, att: Attribution
) -> list[dict[str, Any]]:
    """The session's re-read alerts, each with the estimated tokens its re-reads added."""
    _, alerts = signals.get(key, ({}, []))
    out = []
    for a in alerts:
        if a.get("kind") != "reread_loop":
            continue
        files = a.get("evidence", {}).get("files", {})
        est = reread_tokens(att, files) if isinstance(files, dict) else None
        out.append({"alert_id": a["alert_id"], "reason": a["reason"], "reread_tokens_est": est})
    return out


def document(
    key: ThreadKey, project: str | None, rep: ContextReport, rereads: list[dict[str, Any]]
) -> dict[str, Any]:
    """The `context --json` document (schema_version 1); every token figure ends in `_est`
    unless it is what the log says (`*_logged`)."""
    att = rep.attribution
    summary = summary_json(rep)
    notes = summary.pop("notes")
    return {
        "schema_version": SCHEMA_VERSION,
        "agent": str(key.agent),
        "session_id": key.session_id,
        "project": project,
        **summary,
        "threads": [
            {
                "agent_id": t.agent_id,
                "input_tokens_est": t.input_tokens,
                "output_tokens_est": t.output_tokens,
                "responses": t.responses,
                "output_tokens_logged": t.logged_output,
                "unfinished_responses": t.unfinished,
                "unfinished_output_logged": t.unfinished_logged,
                "unfinished_output_est": t.unfinished_est,
            }
            for t in att.threads
        ],
        "streaming": [
            {
                "agent_id": s.agent_id,
                "response_id": s.response,
                "output_logged": s.logged_output,
                "output_est": s.est_output,
            }
            for s in att.streaming
        ],
        "reread_alerts": rereads,
        "images_not_estimated": att.images,
        "notes": notes,
    }


def render(
    key: ThreadKey,
    project: str | None,
    rep: ContextReport,
    rereads: list[dict[str, Any]],
    *,
    live: bool,
) -> str:
    """The text form; `live`: the session is still active (a response may be streaming)."""
    lines = [
        f"Context of {key.agent} session {key.session_id} ({project or 'no project'})",
        f"All figures are estimates (tiktoken {rep.encoding}), never part of the exact totals.",
        "",
        *describe(rep, live=live),
    ]
    lines.extend(
        f"re-read alert: {r['reason']} (~{fmt_tokens(r['reread_tokens_est'])} tokens est. re-read)"
        for r in rereads
        if r["reread_tokens_est"] is not None
    )
    return "\n".join(lines) + "\n"


@cli.command("context")
@common_options
@click.argument("session")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--top", type=click.IntRange(1, 1000), default=10, show_default=True, help="Groups to list."
)
@click.pass_context
def context_cmd(
    ctx: click.Context, /, session: str, as_json: bool = False, top: int = 10, **common: Any
) -> None:
    """Estimate what fills a session's context: prompts, tool results, file reads.

    SESSION is an exact session id or a unique prefix (>= 6 characters). Counts come from
    tiktoken's o200k_base (Codex) or cl100k_base (Claude, whose own tokenizer differs): they
    are estimates, labelled est., and never part of the exact totals.
    """
    ws = _workspace(_options(ctx, common))
    tally, stats = _load(ws)
    key = _resolve(ctx, tally, session)
    if key.agent not in SUPPORTED:
        click.echo(f"agentwatch: context estimates are not available for {key.agent} yet", err=True)
        ctx.exit(1)
    info = tally.sessions[key]
    try:
        rep = estimate(key.agent, logs_of(info), top=top)
    except TokenizerError as exc:
        click.echo(f"agentwatch: no estimates: {exc}", err=True)
        ctx.exit(1)
    signals = ws.signals(tally, stats, [key], time.time())
    rereads = _alerts(signals, key, rep.attribution)
    project = project_of(info)
    if as_json:
        data = msgspec.json.format(
            msgspec.json.encode(document(key, project, rep, rereads)), indent=2
        )
        write_out(data + b"\n", "context breakdown")
        return
    now = time.time()
    lasts = [t.last_ts for t in (info.main, *info.subagents.values()) if t.last_ts is not None]
    last = max(lasts) if lasts else None
    live = status_of(last, now, ws.settings.idle_after) is SessionStatus.ACTIVE
    write_out(printable(render(key, project, rep, rereads, live=live)), "context breakdown")
