"""Agent processes as plain facts: which command lines are agents, and which session each runs."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from agentwatch.core.records import Agent

SLACK = 2.0
"""Seconds of clock slack between a process start and the files it writes (psutil rounds)."""

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ROLLOUT = re.compile(
    r"rollout-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-"
    r"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\.jsonl$"
)
# Programs whose own name says which agent they are: native builds and rewritten titles.
_PROGRAMS: tuple[tuple[re.Pattern[str], Agent], ...] = (
    (re.compile(r"^claude$"), Agent.CLAUDE_CODE),
    (re.compile(r"^codex(-(x86_64|aarch64|arm64|i686|armv7)-[a-z0-9_-]+)?$"), Agent.CODEX),
    (re.compile(r"^gemini$"), Agent.GEMINI),
)
# Scripts an interpreter runs: the npm bin link (its name) or the package's entry file.
_SCRIPTS: tuple[tuple[re.Pattern[str], Agent], ...] = (
    (re.compile(r"(^|/)claude(\.m?js)?$"), Agent.CLAUDE_CODE),
    (re.compile(r"(^|/)claude-code/cli\.m?js$"), Agent.CLAUDE_CODE),
    (re.compile(r"(^|/)codex(\.m?js)?$"), Agent.CODEX),
    (re.compile(r"(^|/)codex/bin/codex\.m?js$"), Agent.CODEX),
    (re.compile(r"(^|/)gemini(\.m?js)?$"), Agent.GEMINI),
    (re.compile(r"(^|/)gemini-cli/(dist|bundle)/(index|gemini)\.m?js$"), Agent.GEMINI),
)
_PACKAGES = {
    "@anthropic-ai/claude-code": Agent.CLAUDE_CODE,
    "@openai/codex": Agent.CODEX,
    "@google/gemini-cli": Agent.GEMINI,
}
_NATIVE_CLAUDE = re.compile(r"/claude/versions/\d[^/]*$")  # ~/.local/share/claude/versions/2.0.31
_INTERPRETER = re.compile(r"^(node|nodejs|node\d+|bun|deno|python(\d+(\.\d+)?)?)$")
# Interpreter options that take the next argument as their value.
_VALUE_OPTS = frozenset(
    {"-r", "--require", "--import", "--loader", "--experimental-loader", "--title", "-C"}
    | {"--conditions", "--env-file", "-W", "-X", "--inspect-port", "--config"}
)
_NOT_A_SCRIPT = frozenset({"-e", "--eval", "-p", "--print", "-c", "-m", "-"})


class Confidence(StrEnum):
    """How sure a process-to-session mapping is (CLI_CONTRACT section 5 `mapping`)."""

    EXACT = "exact"
    LIKELY = "likely"
    UNKNOWN = "unknown"


class ProcStatus(StrEnum):
    """A process state as `ps --json` reports it."""

    RUNNING = "running"
    SLEEPING = "sleeping"
    SUSPENDED = "suspended"
    ZOMBIE = "zombie"


@dataclass(frozen=True, slots=True)
class AgentCommand:
    """A command line recognised as an agent."""

    agent: Agent
    """Which agent."""
    args: tuple[str, ...]
    """The agent's own arguments (after the interpreter and script, or the program)."""


def _base(path: str) -> str:
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return name[:-4] if name.lower().endswith(".exe") else name


def _program(word: str) -> Agent | None:
    name = _base(word)
    for pat, agent in _PROGRAMS:
        if pat.match(name):
            return agent
    if _NATIVE_CLAUDE.search(word.replace("\\", "/")):
        return Agent.CLAUDE_CODE
    return None


def _script(word: str) -> Agent | None:
    path = word.replace("\\", "/")
    if path.startswith("npm:"):
        spec = path[4:]
        return _PACKAGES.get(spec.rsplit("@", 1)[0] if spec.count("@") > 1 else spec)
    for pat, agent in _SCRIPTS:
        if pat.search(path):
            return agent
    return None


def classify(argv: Sequence[str], name: str = "") -> AgentCommand | None:
    """Is this command line an agent's main process?

    Args:
        argv: the process's command line (may be a rewritten title such as `["claude"]`).
        name: the kernel's process name, used only when `argv` is empty (no access, zombie).

    Returns:
        The agent and its own arguments, or None for everything else: shells, `grep claude`,
        `node server.js`, an agent's tool processes.
    """
    words = [w.strip() for w in argv if w.strip()]
    if len(words) == 1 and " " in words[0]:  # a title rewritten as one string
        words = words[0].split()
    if not words:
        agent = _program(name) if name else None
        return AgentCommand(agent, ()) if agent else None
    agent = _program(words[0])
    if agent is not None:
        return AgentCommand(agent, tuple(words[1:]))
    if not _INTERPRETER.match(_base(words[0])):
        return None
    i = 1
    if i < len(words) and _base(words[0]) in {"bun", "deno"} and words[i] in {"run", "x"}:
        i += 1
    while i < len(words) and words[i].startswith("-"):
        opt = words[i]
        if opt in _NOT_A_SCRIPT:
            return None
        i += 2 if opt in _VALUE_OPTS else 1
    if i >= len(words):
        return None
    agent = _script(words[i])
    return AgentCommand(agent, tuple(words[i + 1 :])) if agent else None


@dataclass(frozen=True, slots=True)
class ArgvSession:
    """What an agent's arguments say about its session."""

    session_id: str | None = None
    """A session named on the command line (a uuid)."""
    latest: bool = False
    """`--continue` / `resume --last`: the newest session of the cwd."""


def _value(args: Sequence[str], i: int, opt: str) -> str | None:
    word = args[i]
    if word.startswith(opt + "="):
        return word[len(opt) + 1 :]
    if word == opt and i + 1 < len(args) and not args[i + 1].startswith("-"):
        return args[i + 1]
    return None


def argv_session(agent: Agent, args: Sequence[str]) -> ArgvSession:
    """The session an agent's own arguments name (FORMATS section 5).

    Claude Code: `--resume <id>`, `-r <id>`, `--session-id <uuid>`, `--continue`/`-c`; a
    `--fork-session` starts a new id, so the resumed one is not the live one. Codex:
    `resume <id>` / `resume --last` (also under `exec`). Gemini: `--resume <uuid>|latest`.
    """
    latest = False
    if agent is Agent.CODEX:
        if "resume" not in args:
            return ArgvSession()
        rest = args[list(args).index("resume") + 1 :]
        ids = [a for a in rest if _UUID.match(a)]
        return ArgvSession(ids[0].lower()) if ids else ArgvSession(latest="--last" in rest)
    if agent is Agent.CLAUDE_CODE and "--fork-session" in args:
        return ArgvSession(latest=any(a in {"-c", "--continue"} for a in args))
    for i, word in enumerate(args):
        for opt in ("--resume", "-r", "--session-id"):
            v = _value(args, i, opt)
            if v is not None and _UUID.match(v):
                return ArgvSession(v.lower())
            if v == "latest" and agent is Agent.GEMINI:
                latest = True
        if agent is Agent.CLAUDE_CODE and word in {"-c", "--continue"}:
            latest = True
    return ArgvSession(latest=latest)


def rollout_session(path: str) -> str | None:
    """The thread id in a Codex rollout file name, or None for any other file."""
    m = _ROLLOUT.search(path.replace("\\", "/"))
    return m.group(1).lower() if m else None


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    """A Claude Code `sessions/<pid>.json` live-registry file."""

    session_id: str
    """`sessionId`."""
    pid: int | None
    """`pid`, when written."""
    started_at: float | None
    """`startedAt` in epoch seconds, when written."""
    mtime: float
    """The file's modification time."""


def parse_registry(doc: object, mtime: float) -> RegistryEntry | None:
    """A registry entry from the decoded JSON file, or None when it names no session."""
    if not isinstance(doc, dict):
        return None
    sid = doc.get("sessionId")
    if not isinstance(sid, str) or not sid:
        return None
    pid = doc.get("pid")
    started = doc.get("startedAt")
    at: float | None = None
    if isinstance(started, int | float) and not isinstance(started, bool):
        at = started / 1000 if started > 1e11 else float(started)  # ms or s
    return RegistryEntry(sid, pid if isinstance(pid, int) else None, at, mtime)


@dataclass(frozen=True, slots=True)
class SessionFile:
    """A session transcript in the project folder of a process's cwd."""

    session_id: str
    """Its session id (the file's uuid stem)."""
    mtime: float
    """Last modification, epoch seconds."""


@dataclass(frozen=True, slots=True)
class ProcFacts:
    """What infra found out about one agent process, for mapping it to a session."""

    pid: int
    """Process id."""
    agent: Agent
    """Which agent."""
    args: tuple[str, ...]
    """The agent's own arguments."""
    cwd: str | None
    """Working directory, when readable."""
    create_time: float
    """Process start, epoch seconds."""
    registry: RegistryEntry | None = None
    """Its `sessions/<pid>.json`, when one exists."""
    open_sessions: tuple[str, ...] = ()
    """Session ids of log files it (or a descendant) holds open, oldest first."""
    project_sessions: tuple[SessionFile, ...] = ()
    """Session files in its cwd's project folder."""


@dataclass(frozen=True, slots=True)
class SessionMatch:
    """A process's session and how it was found."""

    session_id: str | None = None
    """The session, or None."""
    mapping: Confidence = Confidence.UNKNOWN
    """How sure."""
    source: str | None = None
    """`registry`, `argv`, `open-file`, `cwd` or `continue`; None when unmapped."""
    candidates: tuple[str, ...] = ()
    """Other sessions that could be this process's, newest first."""


def _exact(f: ProcFacts) -> SessionMatch | None:
    reg = f.registry
    if reg is not None and (reg.pid is None or reg.pid == f.pid):
        since = reg.started_at if reg.started_at is not None else reg.mtime
        if since >= f.create_time - SLACK:  # older: a dead process's file and a reused pid
            return SessionMatch(reg.session_id, Confidence.EXACT, "registry")
    named = argv_session(f.agent, f.args).session_id
    if named:
        return SessionMatch(named, Confidence.EXACT, "argv")
    if f.open_sessions:
        first, *rest = f.open_sessions
        return SessionMatch(first, Confidence.EXACT, "open-file", tuple(rest))
    return None


def map_sessions(facts: Sequence[ProcFacts]) -> dict[int, SessionMatch]:
    """Map every process to a session, strongest evidence first.

    Exact: the live registry, an id in the arguments, an open log file. Likely: the only
    unmapped process of that agent in its cwd gets the newest session file there modified
    after the process started. Several such processes in one cwd: unknown, with candidates.
    """
    out: dict[int, SessionMatch] = {}
    pending: dict[tuple[Agent, str | None], list[ProcFacts]] = {}
    for f in facts:
        m = _exact(f)
        if m is not None:
            out[f.pid] = m
        else:
            pending.setdefault((f.agent, f.cwd), []).append(f)
    claimed = {m.session_id for m in out.values()}
    for (_, cwd), group in pending.items():
        for f in group:
            # `--continue` picks up the newest session even before it writes to it again
            latest = argv_session(f.agent, f.args).latest
            since = float("-inf") if latest else f.create_time - SLACK
            recent = sorted(
                (s for s in f.project_sessions if s.mtime >= since),
                key=lambda s: (-s.mtime, s.session_id),
            )
            ids = tuple(s.session_id for s in recent if s.session_id not in claimed)
            if cwd is None or not ids:
                out[f.pid] = SessionMatch()
            elif len(group) > 1:
                out[f.pid] = SessionMatch(candidates=ids)
            else:
                source = "continue" if latest else "cwd"
                out[f.pid] = SessionMatch(ids[0], Confidence.LIKELY, source, ids[1:])
    return out


def top_level(parents: Mapping[int, int], agents: Mapping[int, Agent]) -> set[int]:
    """Agent pids that are not folded into a parent of the same agent (a wrapper, a relaunch)."""
    return {pid for pid, agent in agents.items() if agents.get(parents.get(pid, 0)) is not agent}


def descendants(pid: int, children: Mapping[int, Sequence[int]]) -> list[int]:
    """Every process below `pid`, breadth first."""
    out: list[int] = []
    queue = list(children.get(pid, ()))
    seen = {pid}
    while queue:
        c = queue.pop(0)
        if c in seen:
            continue
        seen.add(c)
        out.append(c)
        queue.extend(children.get(c, ()))
    return out


def waiting_on_terminal(
    *, foreground: bool | None, status: ProcStatus, cpu_percent: float, busy_children: int
) -> bool:
    """Sitting at a prompt: the terminal's foreground job, asleep, idle, no child running.

    A heuristic: node agents wait in epoll, not in a terminal read, so the kernel cannot say.
    Idle children (MCP servers) do not count; a running one (a tool) does.
    """
    return (
        foreground is True
        and status is ProcStatus.SLEEPING
        and cpu_percent < 1.0
        and busy_children == 0
    )


@dataclass(frozen=True, slots=True)
class AgentProcess:
    """One agent process as `ps` shows it."""

    pid: int
    """Process id."""
    agent: Agent
    """Which agent."""
    name: str
    """The kernel's process name."""
    cmdline: tuple[str, ...]
    """Its command line."""
    cwd: str | None
    """Working directory, when readable."""
    user: str
    """Owner."""
    create_time: float
    """Start, epoch seconds."""
    cpu_percent: float
    """CPU use over the last sample (100 = one core)."""
    rss_bytes: int
    """Resident memory."""
    children: tuple[int, ...]
    """Every descendant pid (tools, wrappers' children)."""
    status: ProcStatus
    """Running, sleeping, suspended or zombie."""
    terminal: str | None
    """Its controlling terminal, if any."""
    waiting_on_terminal: bool
    """True when it seems to wait for the user at its terminal."""
    session: SessionMatch = field(default_factory=SessionMatch)
    """Its session, with the confidence of the mapping."""


@dataclass(frozen=True, slots=True)
class TargetMatch:
    """What a `kill`/`suspend`/`resume` TARGET names."""

    procs: tuple[AgentProcess, ...] = ()
    """The processes to act on (empty when `error` is set)."""
    session_id: str | None = None
    """The resolved session id, when the target was one."""
    error: str | None = None
    """Why nothing can be acted on."""
    usage: bool = False
    """True when the error is a malformed target (exit 2) rather than no match (exit 1)."""


def resolve_target(target: str, procs: Sequence[AgentProcess]) -> TargetMatch:
    """Resolve a pid, or a session id or unique prefix (>= 6 chars) of a mapped process.

    Only `exact` and `likely` mappings name a session; a session that is merely a candidate
    of an `unknown` process is refused, with the pids to use instead.
    """
    target = target.strip()
    if target.isdigit():
        hits = tuple(p for p in procs if p.pid == int(target))
        if hits:
            return TargetMatch(hits)
        if len(target) < 6:
            return TargetMatch(error=f"pid {target} is not an agent process (see agentwatch ps)")
    mapped = [p for p in procs if p.session.session_id and p.session.mapping != Confidence.UNKNOWN]
    ids = sorted({p.session.session_id for p in mapped if p.session.session_id})
    sid = target if target in ids else None
    if sid is None:
        if len(target) < 6:
            return TargetMatch(error="a session prefix needs at least 6 characters", usage=True)
        prefixed = [i for i in ids if i.startswith(target)]
        if len(prefixed) > 1:
            return TargetMatch(
                error=f"{target!r} matches {len(prefixed)} sessions: " + ", ".join(prefixed[:5])
            )
        sid = prefixed[0] if prefixed else None
    if sid is None:
        maybe = sorted(p.pid for p in procs if any(c.startswith(target) for c in _ids(p)))
        if maybe:
            pids = ", ".join(map(str, maybe))
            return TargetMatch(
                error=f"session {target!r} is not mapped to a process with confidence "
                f"(candidate pids: {pids}); name the pid instead"
            )
        what = "pid or session" if target.isdigit() else "session"
        return TargetMatch(error=f"no agent process matches {what} {target!r}")
    return TargetMatch(tuple(p for p in mapped if p.session.session_id == sid), sid)


def _ids(p: AgentProcess) -> tuple[str, ...]:
    own = (p.session.session_id,) if p.session.session_id else ()
    return own + p.session.candidates
