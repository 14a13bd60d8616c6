"""The command line: a thin click group over the library. Headless commands never import Textual."""

from __future__ import annotations

import errno
import functools
import importlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from datetime import tzinfo
from pathlib import Path
from typing import Any, ClassVar, NoReturn, TypeVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from agentwatch import __version__
from agentwatch.core.guard import GuardAction, LoopGuard
from agentwatch.core.records import Agent, ThreadKey
from agentwatch.core.summary import Filter, Report, build, statuses_hold_until
from agentwatch.core.tally import Tally
from agentwatch.core.when import parse_when
from agentwatch.infra import files, gcpause, memo
from agentwatch.infra.applog import LOG
from agentwatch.infra.export import FORMATS, TEXT_FORMATS
from agentwatch.infra.index import IndexUnusableError
from agentwatch.infra.scan import ScanStats
from agentwatch.infra.workspace import InvalidUsageError, Options, Workspace, open_workspace

F = TypeVar("F", bound=Callable[..., Any])

_ARGV: list[str] = []
"""The words of this command line (a report memo is keyed by them)."""

COMMON = ("claude_dir", "codex_dir", "gemini_dir", "no_cache", "cache_dir", "config_dir")


def common_options(f: F) -> F:
    """Options every command accepts, before or after the sub-command name."""
    opts = [
        click.option(
            "--claude-dir",
            multiple=True,
            metavar="PATH",
            help="Claude Code root (holds projects/); repeatable.",
        ),
        click.option(
            "--codex-dir", multiple=True, metavar="PATH", help="Codex home (holds sessions/)."
        ),
        click.option("--gemini-dir", multiple=True, metavar="PATH", help="Gemini home."),
        click.option(
            "--no-cache", is_flag=True, default=None, help="Ignore the index; read every file."
        ),
        click.option(
            "--cache-dir",
            metavar="PATH",
            envvar="AGENTWATCH_CACHE_DIR",
            help="Where the index lives.",
        ),
        click.option(
            "--config-dir",
            metavar="PATH",
            envvar="AGENTWATCH_CONFIG_DIR",
            help="Where config.toml and themes live.",
        ),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def on_loop_options(f: F) -> F:
    """`--on-loop` and `--on-loop-grace`, for the TUI and `watch`."""
    f = click.option(
        "--on-loop-grace",
        type=click.FloatRange(min=0),
        metavar="SECONDS",
        help="How long a loop alert stays open before --on-loop acts (config: on_loop_grace_s).",
    )(f)
    return click.option(
        "--on-loop",
        type=click.Choice([a.value for a in GuardAction]),
        help="When a session loops: notify (default), suspend or kill its agent process.",
    )(f)


def _guard(ws: Workspace, action: str | None, grace: float | None) -> LoopGuard:
    """The loop guard from the flags, else the config file."""
    return LoopGuard(
        GuardAction(action or ws.settings.on_loop),
        ws.settings.on_loop_grace_s if grace is None else grace,
    )


def _options(ctx: click.Context, /, local: dict[str, Any]) -> Options:
    merged: dict[str, Any] = dict(ctx.obj or {})
    for k in COMMON:
        v = local.pop(k, None)
        if v not in (None, ()):
            merged[k] = v
    return Options(
        claude_dirs=tuple(merged.get("claude_dir", ())),
        codex_dirs=tuple(merged.get("codex_dir", ())),
        gemini_dirs=tuple(merged.get("gemini_dir", ())),
        no_cache=bool(merged.get("no_cache")),
        cache_dir=merged.get("cache_dir"),
        config_dir=merged.get("config_dir"),
    )


def _workspace(opts: Options) -> Workspace:
    try:
        ws = open_workspace(opts)
    except InvalidUsageError as exc:
        raise click.UsageError(str(exc)) from None
    for w in ws.settings.warnings:
        click.echo(f"agentwatch: warning: {w}", err=True)
    for note in ws.ignored:
        click.echo(f"agentwatch: note: {note}", err=True)
    return ws


class _ProgressLine:
    """`scanning 120/7004 files, 350 MB` on a terminal's stderr, after the first half second."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.last = 0.0
        self.shown = False
        self.enabled = sys.stderr.isatty()

    def __call__(self, done: int, total: int, nbytes: int) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.start < 0.5 or now - self.last < 0.1:
            return
        self.last, self.shown = now, True
        sys.stderr.write(f"\rscanning {done:,}/{total:,} files, {nbytes / 1e6:,.0f} MB ")
        sys.stderr.flush()

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _load(ws: Workspace, signals_at: float | None = None) -> tuple[Tally, ScanStats]:
    progress = _ProgressLine()
    try:
        return ws.load(progress, signals_at)
    finally:
        progress.clear()
        for note in ws.notes:
            click.echo(f"agentwatch: note: {note}", err=True)


def write_out(data: bytes | bytearray | str, what: str) -> None:
    """Write a command's output to stdout. A stdout that cannot take it (none, closed, a
    full disk) ends the command with one line naming `what`; a closed pipe ends it quietly."""
    try:
        if isinstance(data, bytes | bytearray):
            sys.stdout.buffer.write(data)
        else:
            sys.stdout.write(data)
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()  # a reader that stopped early (`| head`): done, and not an error
        raise click.exceptions.Exit(0) from None
    except (AttributeError, OSError, ValueError) as exc:
        raise click.ClickException(f"cannot write the {what}: {exc}") from exc


def _skipped_note(stats: ScanStats, ws: Workspace) -> None:
    if not stats.lines_skipped and not stats.skipped_files:
        return
    parts = []
    if stats.lines_skipped:
        parts.append(f"{stats.lines_skipped:,} unreadable lines")
    if stats.skipped_files:
        parts.append(f"{len(stats.skipped_files):,} unreadable files")
    click.echo(
        f"agentwatch: skipped {' and '.join(parts)} (details in {ws.dirs.log_file})", err=True
    )


def _tz(name: str | None) -> tzinfo | None:
    """The --tz zone; None means the system's local time (with its DST rules)."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"unknown time zone {name!r}", param_hint="--tz") from None


class _LazyGroup(click.Group):
    """Sub-commands defined in other modules are imported only when named (or for --help),
    so `report` does not pay for `ps` (psutil), `context` (the tokenizer) or `demo`."""

    LAZY: ClassVar[dict[str, str]] = {
        "leaderboard": "agentwatch.cli_board",
        "context": "agentwatch.cli_context",
        "demo": "agentwatch.cli_demo",
        "ps": "agentwatch.cli_procs",
        "kill": "agentwatch.cli_procs",
        "suspend": "agentwatch.cli_procs",
        "resume": "agentwatch.cli_procs",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:  # noqa: ARG002
        return sorted({*self.commands, *self.LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:  # noqa: ARG002
        if cmd_name not in self.commands and cmd_name in self.LAZY:
            importlib.import_module(self.LAZY[cmd_name])  # registers its commands on `cli`
        return self.commands.get(cmd_name)


@click.group(
    cls=_LazyGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, "--version", prog_name="agentwatch")
@common_options
@click.option("--theme", metavar="NAME", help="TUI theme (switch live from the palette).")
@on_loop_options
@click.pass_context
def cli(
    ctx: click.Context,
    /,
    theme: str | None = None,
    on_loop: str | None = None,
    on_loop_grace: float | None = None,
    **kwargs: Any,
) -> None:
    """agentwatch: htop for AI coding agents, with an honest meter.

    Run without a command to watch your agents live; `agentwatch report` prints a one-shot
    summary and `agentwatch watch --jsonl` streams events for scripts.
    """
    ctx.obj = {k: v for k, v in kwargs.items() if v not in (None, ())}
    if ctx.invoked_subcommand is None:
        _tui(ctx, theme, on_loop, on_loop_grace)


def _tui(
    ctx: click.Context, theme: str | None, on_loop: str | None, on_loop_grace: float | None
) -> None:
    if not sys.stderr.isatty() or not sys.stdin.isatty():  # Textual draws on stderr
        raise click.UsageError(
            "the live view needs a terminal; use `agentwatch report` or `agentwatch watch --jsonl`"
        )
    ws = _workspace(_options(ctx, {}))
    from agentwatch.infra.scan import prepare_workers  # noqa: PLC0415
    from agentwatch.ui.app import make_app  # noqa: PLC0415 (Textual only for the TUI)

    prepare_workers()
    app = make_app(ws, theme=theme, guard=_guard(ws, on_loop, on_loop_grace), offer_demo=True)
    app.run()
    if app.demo_requested:  # `d` in the empty state: nothing here yet, so show the demo
        from agentwatch.cli_demo import run_demo  # noqa: PLC0415

        run_demo(theme)


def _filter(
    ctx: click.Context,
    /,
    since: str | None,
    until: str | None,
    project: str | None,
    session: str | None,
    agent: str | None,
    model: str | None,
    tz: tzinfo | None,
    tally: Tally,
    now: float,
) -> Filter:
    try:
        lo = parse_when(since, now, tz) if since else None
        hi = parse_when(until, now, tz) if until else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since/--until") from None
    sid = None
    if session:
        ids = {k.session_id for k in tally.sessions}
        if session in ids:
            sid = session
        else:
            if len(session) < 6:
                raise click.BadParameter(
                    "a session prefix needs at least 6 characters", param_hint="--session"
                )
            hits = sorted(i for i in ids if i.startswith(session))
            if not hits:
                click.echo(f"agentwatch: no session matches {session!r}", err=True)
                ctx.exit(1)
            if len(hits) > 1:
                click.echo(
                    f"agentwatch: {session!r} matches {len(hits)} sessions: " + ", ".join(hits[:5]),
                    err=True,
                )
                ctx.exit(1)
            sid = hits[0]
    return Filter(lo, hi, project, sid, Agent(agent) if agent else None, model)


def _gc_paused(f: F) -> F:
    """A one-shot command loads, prints and exits: no cycle collection while it runs."""

    @functools.wraps(f)
    def run(*args: Any, **kwargs: Any) -> Any:
        with gcpause.paused():
            return f(*args, **kwargs)

    return cast(F, run)


@cli.command()
@common_options
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(FORMATS)),
    default=None,
    help="Output format (default: table).",
)
@click.option("--output", "-o", metavar="FILE", help="Write to FILE (atomically, mode 0600).")
@click.option("--force", is_flag=True, help="Replace an existing --output file.")
@click.option(
    "--by",
    type=click.Choice(["session", "project", "day", "model"]),  # core.groups.GroupBy
    help="Also group tokens and cost by session, project, day (in --tz) or model.",
)
@click.option("--since", metavar="WHEN", help="Calls at or after: YYYY-MM-DD, ISO time, or 7d.")
@click.option("--until", metavar="WHEN", help="Calls before: YYYY-MM-DD, ISO time, or 12h.")
@click.option("--project", metavar="TEXT", help="Sessions whose cwd contains TEXT.")
@click.option("--session", metavar="ID", help="One session: exact id or unique prefix (>= 6).")
@click.option("--agent", type=click.Choice([a.value for a in Agent]), help="Only this agent.")
@click.option("--model", metavar="TEXT", help="Calls whose model contains TEXT.")
@click.option("--tz", metavar="ZONE", help="Time zone for dates and days (default: local).")
@click.option(
    "--include-text",
    is_flag=True,
    help="Add prompts, replies and tool inputs/outputs (json, md, html), secrets redacted.",
)
@click.option("--no-redact", is_flag=True, help="With --include-text: do not redact secrets.")
@click.option(
    "--context",
    is_flag=True,
    help="Add each session's top context consumers (tokenizer estimates; table, json, md). "
    "Re-reads the logs: best with --session or a narrow filter.",
)
@click.pass_context
@_gc_paused
def report(
    ctx: click.Context,
    /,
    as_json: bool = False,
    fmt: str | None = None,
    output: str | None = None,
    force: bool = False,
    by: str | None = None,
    since: str | None = None,
    until: str | None = None,
    project: str | None = None,
    session: str | None = None,
    agent: str | None = None,
    model: str | None = None,
    tz: str | None = None,
    include_text: bool = False,
    no_redact: bool = False,
    context: bool = False,
    **common: Any,
) -> None:
    """One-shot summary of every session: tokens by kind, cost, sub-agents.

    Formats: table (default), json (the scripting contract), csv, md (to paste into a pull
    request) and html (one self-contained page). Prompts and tool text are never exported
    unless --include-text is given.
    """
    fmt = _report_format(as_json, fmt)
    if no_redact and not include_text:
        raise click.UsageError("--no-redact only applies with --include-text")
    if include_text and fmt not in TEXT_FORMATS:
        raise click.UsageError("--include-text needs --format json, md or html")
    target = Path(output).expanduser() if output and output != "-" else None
    if target is not None and not force and (target.exists() or target.is_symlink()):
        click.echo(f"agentwatch: {target} exists; use --force to replace it", err=True)
        ctx.exit(1)
    # The renderers, loaded for `report` only (other commands start faster without them).
    from agentwatch.core.groups import GroupBy, group_report  # noqa: PLC0415
    from agentwatch.infra.export.model import Export  # noqa: PLC0415
    from agentwatch.infra.export.palette import load_palette  # noqa: PLC0415
    from agentwatch.infra.export.render import render as render_export  # noqa: PLC0415
    from agentwatch.infra.export.text import read_session_text  # noqa: PLC0415
    from agentwatch.infra.export.write import (  # noqa: PLC0415
        OutputError,
        OutputExistsError,
        write_atomic,
    )

    ws = _workspace(_options(ctx, common))
    zone = _tz(tz)
    # A plain JSON report to stdout can be answered next time from a memo (infra/memo.py):
    # the folders are probed before reading, so a file added meanwhile voids it.
    keep = fmt == "json" and target is None and not (include_text or context or since or until)
    folders = _before_reading(ws) if keep else None
    now = time.time()  # the report is as of its start (a full scan models signals meanwhile)
    tally, stats = _load(ws, now)
    flt = _filter(ctx, since, until, project, session, agent, model, zone, tally, now)
    rep = build(tally, flt, now, ws.settings.idle_after)
    keys = [ThreadKey(s.agent, s.session_id) for s in rep.sessions]
    shown = len(ws.notes)  # (the load's notes are out already)
    signals = ws.signals(tally, stats, keys, now)
    for note in ws.notes[shown:]:
        click.echo(f"agentwatch: note: {note}", err=True)
    grouping = GroupBy(by) if by else None
    groups = None
    if grouping is not None:
        groups = group_report(
            rep, grouping, tally.calls.values() if grouping.needs_calls else (), flt, zone
        )
    texts = None
    if include_text:
        texts = {
            k: read_session_text(
                s.agent, s.files, do_redact=not no_redact, since=flt.since, until=flt.until
            )
            for k, s in zip(keys, rep.sessions, strict=True)
        }
    contexts = _contexts(tally, keys) if context else None
    del tally  # (rendering reuses its memory: the document needs nothing more from it)
    stats.activity = []
    doc = Export(
        rep,
        now,
        signals,
        stats,
        groups,
        texts,
        contexts=contexts,
        redacted=not no_redact,
        tz=zone,
        scope=_scope(
            since=since, until=until, project=project, session=session, agent=agent, model=model
        ),
    )
    if fmt == "table" and target is None and not rep.sessions:
        where = ", ".join(str(p) for p in ws.searched) or "(none)"
        write_out(
            f"No sessions found. Searched: {where}\n"
            "Point agentwatch elsewhere with --claude-dir PATH or CLAUDE_CONFIG_DIR.\n",
            "report",
        )
        _skipped_note(stats, ws)
        return
    palette = load_palette(ws.settings.theme, ws.dirs.config / "themes") if fmt == "html" else None
    width = shutil.get_terminal_size((160, 24)).columns if target is None else 160
    data = render_export(fmt, doc, palette, width)
    if target is None:
        write_out(data, "report")
        if folders is not None:
            _keep(ws, rep, stats, now, data, folders)
    else:
        try:
            written = write_atomic(target, data, force=force)
        except (OutputExistsError, OutputError) as exc:
            click.echo(f"agentwatch: {exc}", err=True)
            ctx.exit(1)
        click.echo(f"agentwatch: wrote {written} ({len(rep.sessions)} sessions, {fmt})", err=True)
    if texts is not None and not no_redact:
        n = sum(t.secrets for t in texts.values())
        if n:
            click.echo(f"agentwatch: redacted {n} secret(s) from the exported text", err=True)
    if fmt != "json":
        _skipped_note(stats, ws)


def _before_reading(ws: Workspace) -> list[memo.Probe] | None:
    """Probes of the folders a report reads (and of the roots it could have found), taken
    before reading; None when a root appeared since the roots were picked."""
    searched = memo.probes(map(str, ws.searched))
    chosen = {str(r.base) for r in ws.roots}
    if any(p[1] is not None and p[0] not in chosen for p in searched):
        return None
    return searched + memo.probes(d for r in ws.roots for d in files.folders(r))


def _keep(
    ws: Workspace,
    rep: Report,
    stats: ScanStats,
    now: float,
    data: bytes | bytearray,
    folders: list[memo.Probe],
) -> None:
    """Save a memo of this report, valid until a session would turn idle or an alert close."""
    if ws.notes or ws.settings.warnings or ws.ignored or stats.skipped_files:
        return  # a run with something to say on stderr is not replayed silently
    if os.environ.get(memo.OFF) or "report" not in _ARGV:
        return  # (`_ARGV` is empty when `cli` was invoked without `main`, as by a test runner)
    probes = ws.memo_probes()
    if probes is None:
        return
    until = min(statuses_hold_until(rep, now, ws.settings.idle_after), ws.signals_until)
    try:
        key = memo.key_of(_ARGV, os.environ, os.getcwd())
    except OSError:  # the current directory was removed
        return
    code = memo.probes(memo.code_paths())
    memo.save(str(ws.dirs.cache), key, now, until, folders + probes + code, data)


def _contexts(tally: Tally, keys: list[ThreadKey]) -> dict[ThreadKey, Any]:
    """`--context`: each session's logs re-read and tokenized (estimates, never totals)."""
    from agentwatch.infra.context import SUPPORTED, estimate, logs_of  # noqa: PLC0415
    from agentwatch.infra.tokenizer import TokenizerError  # noqa: PLC0415

    out: dict[ThreadKey, Any] = {}
    try:
        for k in keys:
            if k.agent in SUPPORTED:
                out[k] = estimate(k.agent, logs_of(tally.sessions[k]), top=5)
    except TokenizerError as exc:
        raise click.ClickException(f"no token estimates: {exc}") from None
    return out


def _report_format(as_json: bool, fmt: str | None) -> str:
    if as_json and fmt not in (None, "json"):
        raise click.UsageError(f"--json and --format {fmt} disagree; give one of them")
    return "json" if as_json else (fmt or "table")


def _scope(**given: str | None) -> str:
    """The filters in words, for the exported documents' headers."""
    return ", ".join(f"{k} {v}" for k, v in given.items() if v)


@cli.command()
@common_options
@click.option("--jsonl", is_flag=True, help="One JSON event per line (the only format).")
@click.option("--since", metavar="WHEN", help="Snapshot sessions active since (default 24h).")
@click.option("--tz", metavar="ZONE", help="Time zone for dates in --since.")
@on_loop_options
@click.pass_context
def watch(
    ctx: click.Context,
    /,
    jsonl: bool = False,
    since: str | None = None,
    tz: str | None = None,
    on_loop: str | None = None,
    on_loop_grace: float | None = None,
    **common: Any,
) -> None:
    """Stream usage, status and warning events as JSON lines until interrupted."""
    from agentwatch.infra.watchcmd import (  # noqa: PLC0415 (watchdog only here)
        OutputFailedError,
        run_watch,
    )

    if not jsonl:
        raise click.UsageError("watch needs --jsonl (one JSON event per line)")

    ws = _workspace(_options(ctx, common))
    now = time.time()
    try:
        bound = parse_when(since, now, _tz(tz)) if since else now - 86400
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    try:
        code = run_watch(ws, bound, sys.stdout, _guard(ws, on_loop, on_loop_grace))
    except OutputFailedError as exc:
        raise click.ClickException(f"cannot write events: {exc}") from exc
    ctx.exit(code)


@cli.command()
@common_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def prices(ctx: click.Context, /, as_json: bool = False, **common: Any) -> None:
    """List the model prices agentwatch knows, and their date."""
    from agentwatch.infra.prices import data_date, data_version  # noqa: PLC0415

    ws = _workspace(_options(ctx, common))
    rows = ws.prices.known_models()
    overrides = [(m, o.rates(m)) for m, o in ws.settings.prices.items()]
    if as_json:

        def rate(r: Any) -> dict[str, Any]:
            return {"base": r.base, "tiers": [list(t) for t in r.tiers]}

        doc = {
            "data": {"package": "genai-prices", "version": data_version(), "date": data_date()},
            "models": [
                {
                    "provider": p,
                    "model": r.model,
                    "source": r.source,
                    "estimate": r.estimate,
                    **{
                        k: rate(getattr(r, k))
                        for k in (
                            "input",
                            "output",
                            "cache_write_5m",
                            "cache_write_1h",
                            "cache_read",
                        )
                    },
                }
                for p, r in [("config", r) for _, r in overrides] + rows
            ],
        }
        write_out(json.dumps(doc, indent=2) + "\n", "price list")
        return

    def f(x: Any) -> str:
        return f"{x.base:g}" + ("+" if x.tiers else "")

    lines = [
        (
            f"Price data: genai-prices {data_version()} (published {data_date()}), "
            "bundled; never fetched. USD per million tokens; '+tiers' = long-context rates."
        ),
        (
            f"{'provider':<12} {'model':<40} {'input':>8} {'output':>8} {'cw 5m':>8} "
            f"{'cw 1h':>8} {'c read':>8}"
        ),
        *(
            f"{p:<12} {r.model[:40]:<40} {f(r.input):>8} {f(r.output):>8} "
            f"{f(r.cache_write_5m):>8} {f(r.cache_write_1h):>8} {f(r.cache_read):>8}"
            for p, r in [("config", r) for _, r in overrides] + rows
        ),
    ]
    write_out("".join(f"{line}\n" for line in lines), "price list")


@cli.command("config")
@common_options
@click.pass_context
def config_cmd(ctx: click.Context, /, **common: Any) -> None:
    """Show the effective settings and where they come from."""
    ws = _workspace(_options(ctx, common))
    s = ws.settings
    lines = [
        f"config file:  {ws.dirs.config_file}{'' if s.source else ' (not present)'}",
        f"cache dir:    {ws.dirs.cache}",
        f"log file:     {ws.dirs.log_file}",
        f"claude roots: {', '.join(str(r.path) for r in ws.roots) or '(none found)'}",
        f"theme:        {s.theme}",
        f"idle after:   {s.idle_after:g} s",
        *(f"price override: {model}" for model in sorted(s.prices)),
    ]
    write_out("".join(f"{line}\n" for line in lines), "settings")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: one clear line for every error a user can cause."""
    _ARGV[:] = sys.argv[1:] if argv is None else argv
    try:
        code = cli.main(args=argv, prog_name="agentwatch", standalone_mode=False)
    except click.UsageError as exc:
        hint = (
            f" (see 'agentwatch {exc.ctx.info_name} --help')" if exc.ctx and exc.ctx.parent else ""
        )
        click.echo(f"agentwatch: {exc.format_message()}{hint}", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"agentwatch: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except IndexUnusableError as exc:  # read lazily after the load, and found damaged
        click.echo(f"agentwatch: the index could not be read ({exc}); run it again", err=True)
        sys.exit(1)
    except (click.Abort, KeyboardInterrupt):
        sys.stderr.write("\n")
        sys.exit(130)
    except BrokenPipeError:
        _quiet_stdout()
        sys.exit(0)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            _internal_error(exc)
        # Only stdout is written outside a handler of its own: click's --help and --version.
        click.echo(f"agentwatch: cannot write the output: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 (a bug: traceback to our log, one line here)
        _internal_error(exc)
    sys.exit(code if isinstance(code, int) else 0)


def _internal_error(exc: Exception) -> NoReturn:
    LOG.exception("internal error")
    click.echo(f"agentwatch: internal error: {exc!r} (traceback in agentwatch's log)", err=True)
    sys.exit(1)


def _quiet_stdout() -> None:
    """After a closed pipe, stop Python from complaining while flushing stdout at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
