"""`agentwatch ps`, `kill`, `suspend`, `resume` (CLI_CONTRACT section 5).

Registered on the `cli` group when agentwatch.cli is imported; psutil is imported here.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click
import msgspec

from agentwatch.cli import _options, _workspace, cli, common_options, write_out
from agentwatch.core.procs import AgentProcess, resolve_target
from agentwatch.core.records import Agent
from agentwatch.infra.export import printable, ps_json

if TYPE_CHECKING:
    from agentwatch.infra.procs import Guard, Identity, ProcessTable, SignalReport
    from agentwatch.infra.workspace import Workspace


def _procs() -> Any:
    """infra.procs, imported on first use: psutil stays out of `report` and `watch`."""
    from agentwatch.infra import procs  # noqa: PLC0415

    return procs


def _agent_procs(ws: Workspace, cpu_interval: float) -> tuple[ProcessTable, list[AgentProcess]]:
    """The process table and the agent processes on it."""
    claude = [r.path for r in ws.roots if r.source.agent is Agent.CLAUDE_CODE]
    gemini = [r.path for r in ws.roots if r.source.agent is Agent.GEMINI]
    procs = _procs().PsutilTable()
    return procs, _procs().discover(procs, claude, cpu_interval=cpu_interval, gemini_roots=gemini)


def _ps_rows(found: list[AgentProcess], write: Callable[[str], Any]) -> None:
    """The `ps` table: one line per agent process."""
    home = os.path.expanduser("~")
    today = time.strftime("%Y-%m-%d")
    write(
        f"{'PID':>7}  {'USER':<10} {'AGENT':<11} {'STARTED':<11} {'CPU%':>5} {'RSS':>6} "
        f"{'KIDS':>4}  {'STATUS':<9} {'TTY':<4}  {'SESSION':<36} {'MAPPING':<7}  CWD\n"
    )
    for p in found:
        day = time.strftime("%Y-%m-%d", time.localtime(p.create_time))
        started = time.strftime(
            "%H:%M:%S" if day == today else "%b %d %H:%M", time.localtime(p.create_time)
        )
        rss = (
            f"{p.rss_bytes / 2**20:.0f}M"
            if p.rss_bytes < 2**30 * 10
            else f"{p.rss_bytes / 2**30:.0f}G"
        )
        tty = "wait" if p.waiting_on_terminal else ("yes" if p.terminal else "-")
        cwd = p.cwd or "?"
        if cwd == home or cwd.startswith(home + os.sep):
            cwd = "~" + cwd[len(home) :]
        sid = p.session.session_id or (
            f"? ({len(p.session.candidates)} candidates)" if p.session.candidates else "-"
        )
        write(
            f"{p.pid:>7}  {p.user[:10]:<10} {p.agent.value:<11} {started:<11} "
            f"{p.cpu_percent:>5.1f} {rss:>6} {len(p.children):>4}  {p.status.value:<9} "
            f"{tty:<4}  {sid:<36} {p.session.mapping.value:<7}  {cwd}\n"
        )


@cli.command("ps")
@common_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def ps_cmd(ctx: click.Context, /, as_json: bool = False, **common: Any) -> None:
    """List agent processes and their sessions.

    Claude Code, Codex and Gemini CLI processes, with the session each runs and how sure the
    mapping is (exact, likely, unknown); CPU is sampled over half a second.
    """
    ws = _workspace(_options(ctx, common))
    _, found = _agent_procs(ws, cpu_interval=0.5)
    if as_json:
        data = msgspec.json.format(msgspec.json.encode(ps_json.document(found)), indent=2)
        write_out(data + b"\n", "process list")
        return
    if not found:
        write_out("No agent processes found.\n", "process list")
        return
    _ps_rows(found, lambda t: write_out(printable(t), "process list"))


def _describe(p: AgentProcess) -> str:
    cmd = " ".join(p.cmdline) or p.name
    cmd = cmd[:100] + "…" if len(cmd) > 100 else cmd
    sid = p.session.session_id or "no session"
    kids = len(p.children)
    return (
        f"pid {p.pid} {p.agent.value}, {sid} ({p.session.mapping.value}), "
        f"{kids} child process{'es' if kids != 1 else ''}: {cmd}"
    )


def _targets(
    ctx: click.Context, target: str, verb: str, yes: bool, common: dict[str, Any]
) -> tuple[ProcessTable, Guard, tuple[AgentProcess, ...]]:
    """Resolve TARGET, apply the guard, and get a confirmation: (table, guard, processes)."""
    ws = _workspace(_options(ctx, common))
    table, found = _agent_procs(ws, cpu_interval=0.0)
    match = resolve_target(target, found)
    if match.error:
        if match.usage:
            raise click.BadParameter(match.error, param_hint="TARGET")
        click.echo(f"agentwatch: {match.error}", err=True)
        ctx.exit(1)
    guard = _procs().Guard.current()
    for p in match.procs:
        why = guard.refuse(_procs().Identity(p.pid, p.create_time, p.cmdline, p.user or None))
        if why:
            click.echo(f"agentwatch: refusing to {verb} pid {p.pid}: {why}", err=True)
            ctx.exit(1)
    if not yes:
        if not sys.stdin.isatty():
            pids = ", ".join(str(p.pid) for p in match.procs)
            click.echo(
                f"agentwatch: not going to {verb} pid {pids} without confirmation and there is "
                "no terminal to ask on; pass --yes",
                err=True,
            )
            ctx.exit(1)
        for p in match.procs:
            click.echo(f"  {_describe(p)}", err=True)
        n = len(match.procs)
        if not click.confirm(
            f"{verb.capitalize()} "
            + ("this agent and its" if n == 1 else f"these {n} agents and their")
            + " child processes?",
            default=False,
            err=True,
        ):
            click.echo("agentwatch: nothing done", err=True)
            ctx.exit(1)
    return table, guard, match.procs


def _report_lines(rep: SignalReport, pid: int) -> list[str]:
    """What one signal did, as lines for stdout."""
    lines = []
    if rep.sent:
        n = len(rep.sent)
        lines.append(f"pid {pid}: {rep.signal} sent to {n} process{'es' if n != 1 else ''}")
    lines += [f"  {i.label()}: already exited" for i in rep.exited if i.pid != pid]
    if any(i.pid == pid for i in rep.exited):
        lines.append(f"pid {pid}: had already exited")
    lines += [f"  {i.label()}: not signalled: {why}" for i, why in rep.refused]
    lines += [f"  {i.label()}: not signalled: access denied" for i in rep.denied]
    return lines


def _act(
    ctx: click.Context,
    target: str,
    yes: bool,
    common: dict[str, Any],
    sig_name: str,
    verb: str,
) -> None:
    table, guard, procs = _targets(ctx, target, verb, yes, common)
    ok = True
    for p in procs:
        ident = _procs().Identity(p.pid, p.create_time, p.cmdline, p.user or None)
        rep = _procs().signal_tree(
            table, ident, signal.Signals[sig_name], session=p.session.session_id, guard=guard
        )
        for line in _report_lines(rep, p.pid):
            write_out(line + "\n", "report of the signals sent")
        ok = ok and rep.ok
    if not ok:
        click.echo("agentwatch: some processes could not be signalled (listed above)", err=True)
        ctx.exit(1)


@cli.command("kill")
@common_options
@click.argument("target")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    metavar="S",
    help="Seconds to wait after SIGTERM.",
)
@click.option("--force", is_flag=True, help="SIGKILL what survives the grace period.")
@click.pass_context
def kill_cmd(
    ctx: click.Context,
    /,
    target: str,
    yes: bool = False,
    grace: float = 5.0,
    force: bool = False,
    **common: Any,
) -> None:
    """Stop an agent and its child processes.

    TARGET is a session id (or a unique prefix of 6 characters or more) or a pid. SIGTERM goes
    to the agent's whole process tree; survivors of the grace period get SIGKILL only with
    --force or when you confirm it; otherwise they are listed and the exit code is 1.
    """
    table, guard, procs = _targets(ctx, target, "kill", yes, common)
    ask = not yes and sys.stdin.isatty()

    def escalate(alive: Sequence[Identity]) -> bool:
        if force:
            return True
        if not ask:
            return False
        for i in alive:
            click.echo(f"  still running: {i.label()}", err=True)
        return click.confirm(
            f"{len(alive)} process{'es' if len(alive) != 1 else ''} survived SIGTERM after "
            f"{grace:g} s; send SIGKILL?",
            default=False,
            err=True,
        )

    left = 0
    trouble = False
    for p in procs:
        ident = _procs().Identity(p.pid, p.create_time, p.cmdline, p.user or None)
        rep = _procs().terminate_tree(
            table,
            ident,
            grace=grace,
            escalate=escalate,
            session=p.session.session_id,
            guard=guard,
        )
        for line in _report_lines(rep.term, p.pid):
            write_out(line + "\n", "report of the signals sent")
        if rep.kill is not None:
            for line in _report_lines(rep.kill, p.pid):
                write_out(line + "\n", "report of the signals sent")
        for i in rep.survivors:
            write_out(f"  still running: {i.label()}\n", "report of the signals sent")
        if rep.term.sent and not rep.survivors:
            write_out(f"pid {p.pid}: exited\n", "report of the signals sent")
        left += len(rep.survivors)
        trouble = trouble or not rep.term.ok or (rep.kill is not None and not rep.kill.ok)
    if left:
        hint = "" if force else "; rerun with --force to SIGKILL them"
        click.echo(
            f"agentwatch: {left} process{'es' if left != 1 else ''} still running{hint}", err=True
        )
        ctx.exit(1)
    if trouble:
        click.echo("agentwatch: some processes could not be signalled (listed above)", err=True)
        ctx.exit(1)


@cli.command("suspend")
@common_options
@click.argument("target")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def suspend_cmd(ctx: click.Context, /, target: str, yes: bool = False, **common: Any) -> None:
    """Pause an agent and its child processes.

    SIGSTOP to the process tree of TARGET: a session id, a unique prefix (>= 6) or a pid.
    """
    _act(ctx, target, yes, common, "SIGSTOP", "suspend")


@cli.command("resume")
@common_options
@click.argument("target")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def resume_cmd(ctx: click.Context, /, target: str, yes: bool = False, **common: Any) -> None:
    """Continue a suspended agent and its child processes.

    SIGCONT to the process tree of TARGET: a session id, a unique prefix (>= 6) or a pid.
    """
    _act(ctx, target, yes, common, "SIGCONT", "resume")
