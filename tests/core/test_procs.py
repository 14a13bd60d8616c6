"""Agent processes as plain facts: classification of real command lines, session mapping,
wrapper folding, targets."""

from __future__ import annotations

import pytest

from agentwatch.core.procs import (
    SLACK,
    AgentProcess,
    Confidence,
    ProcFacts,
    ProcStatus,
    RegistryEntry,
    SessionFile,
    SessionMatch,
    argv_session,
    classify,
    descendants,
    map_sessions,
    parse_registry,
    resolve_target,
    rollout_session,
    top_level,
    waiting_on_terminal,
)
from agentwatch.core.records import Agent

CLAUDE, CODEX, GEMINI = Agent.CLAUDE_CODE, Agent.CODEX, Agent.GEMINI
U1 = "7c1e2a90-5b3d-4f6e-9a18-2d4c6b8e0f13"
U2 = "0d9a41c6-2b7e-4f3a-8c51-6e2f9b7a1d30"
U3 = "5f3b8e21-9c4d-4a7e-b2f6-81d0c3a9e457"
T0 = 1_770_000_000.0  # a process start


@pytest.mark.parametrize(
    ("argv", "name", "agent", "args"),
    [
        # Claude Code: npm install (the bin link run by node, or the package's cli.js)
        (["node", "/usr/local/bin/claude", "--resume", U1], "node", CLAUDE, ("--resume", U1)),
        (
            ["/usr/bin/node", "/usr/lib/node_modules/@anthropic-ai/claude-code/cli.js"],
            "node",
            CLAUDE,
            (),
        ),
        (
            ["node", "--no-warnings", "--enable-source-maps", "/x/claude-code/cli.js", "-c"],
            "node",
            CLAUDE,
            ("-c",),
        ),
        (["node", "-r", "/opt/hook.js", "/home/dev/.npm-global/bin/claude"], "node", CLAUDE, ()),
        # a node CLI that set process.title: only its name, no arguments
        (["claude"], "claude", CLAUDE, ()),
        (["claude   "], "claude", CLAUDE, ()),
        (["claude --resume " + U1], "claude", CLAUDE, ("--resume", U1)),
        # native build: the versioned binary, started through its link or directly
        (["claude", "--session-id", U2], "claude", CLAUDE, ("--session-id", U2)),
        (["/home/dev/.local/share/claude/versions/2.0.31", "-c"], "2.0.31", CLAUDE, ("-c",)),
        (["C:\\Users\\dev\\.local\\bin\\claude.exe"], "claude.exe", CLAUDE, ()),
        (
            ["C:\\nodejs\\node.exe", "C:\\npm\\node_modules\\@anthropic-ai\\claude-code\\cli.js"],
            "node.exe",
            CLAUDE,
            (),
        ),
        (["bun", "run", "/x/node_modules/@anthropic-ai/claude-code/cli.js"], "bun", CLAUDE, ()),
        (["deno", "run", "-A", "npm:@anthropic-ai/claude-code@2.1.0"], "deno", CLAUDE, ()),
        ([], "claude", CLAUDE, ()),  # cmdline unreadable: the kernel's name
        # Codex: the node wrapper and the native binary it starts
        (["codex"], "codex", CODEX, ()),
        (
            ["node", "/usr/lib/node_modules/@openai/codex/bin/codex.js", "resume", U1],
            "node",
            CODEX,
            ("resume", U1),
        ),
        (
            ["/usr/lib/node_modules/@openai/codex/vendor/x86_64-unknown-linux-musl/codex/codex"],
            "codex",
            CODEX,
            (),
        ),
        (
            ["codex-x86_64-unknown-linux-musl", "exec", "hi"],
            "codex-x86_64-un",
            CODEX,
            ("exec", "hi"),
        ),
        (["node", "/home/dev/.nvm/versions/node/v22.1.0/bin/codex"], "node", CODEX, ()),
        # Gemini CLI (and its relaunch with a bigger heap)
        (["node", "/usr/bin/gemini"], "node", GEMINI, ()),
        (
            [
                "node",
                "--max-old-space-size=8192",
                "/usr/lib/node_modules/@google/gemini-cli/dist/index.js",
            ],
            "node",
            GEMINI,
            (),
        ),
        (["gemini", "-m", "gemini-2.5-pro"], "gemini", GEMINI, ("-m", "gemini-2.5-pro")),
    ],
)
def test_agents_are_recognised(
    argv: list[str], name: str, agent: Agent, args: tuple[str, ...]
) -> None:
    got = classify(argv, name)
    assert got is not None, argv
    assert (got.agent, got.args) == (agent, args)


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["node", "server.js"], "node"),
        (["node", "/srv/app/dist/index.js", "--port", "3000"], "node"),
        (["node", "-r", "/x/claude", "server.js"], "node"),  # -r takes a module, not the script
        (["node", "-e", "require('/usr/local/bin/claude')"], "node"),
        (["node"], "node"),
        (["grep", "claude"], "grep"),
        (["grep", "--color=auto", "-r", "codex", "."], "grep"),
        (["npm", "test"], "npm"),  # a Bash tool's child
        (["node", "/usr/local/bin/npm", "test"], "node"),
        (["/bin/bash", "-c", "-l", "npm test"], "bash"),
        (["bash", "/home/dev/.claude/local/claude"], "bash"),  # a shell wrapper
        (["sh", "-c", "claude --resume " + U1], "sh"),
        (["tmux", "new", "-s", "claude"], "tmux"),
        (["vim", "CLAUDE.md"], "vim"),
        (["tail", "-f", "/home/dev/.claude/projects/-home-dev/x.jsonl"], "tail"),
        (["python3", "-m", "claude"], "python3"),
        (["/usr/bin/python3", "/home/dev/bin/claude-monitor.py"], "python3"),
        (["agentwatch", "kill", "claude"], "agentwatch"),
        (["codex-responses-api-proxy"], "codex-responses"),
        (["/opt/gemini-tools/bin/gemini-lint"], "gemini-lint"),
        ([], "node"),
        ([], ""),
    ],
)
def test_other_processes_are_not_agents(argv: list[str], name: str) -> None:
    assert classify(argv, name) is None


@pytest.mark.parametrize(
    ("agent", "args", "sid", "latest"),
    [
        (CLAUDE, ("--resume", U1), U1, False),
        (CLAUDE, ("-r", U1.upper()), U1, False),
        (CLAUDE, ("--resume=" + U1,), U1, False),
        (CLAUDE, ("--model", "opus", "--session-id", U2, "-p", "hi"), U2, False),
        (CLAUDE, ("--resume",), None, False),  # the picker
        (CLAUDE, ("--resume", "refund bug"), None, False),  # not an id
        (CLAUDE, ("-c",), None, True),
        (CLAUDE, ("--continue", "--model", "opus"), None, True),
        (CLAUDE, ("--resume", U1, "--fork-session"), None, False),  # a new id, not U1
        (CLAUDE, ("-p", "please --resume " + U1), None, False),  # inside a prompt
        (CODEX, ("resume", U1), U1, False),
        (CODEX, ("-m", "o3", "resume", U1), U1, False),
        (CODEX, ("exec", "resume", U1, "fix the test"), U1, False),
        (CODEX, ("resume", "--last"), None, True),
        (CODEX, ("--resume", U1), None, False),  # not a Codex flag
        (CODEX, ("exec", "say hi"), None, False),
        (GEMINI, ("--resume", U3), U3, False),
        (GEMINI, ("--resume", "latest"), None, True),
        (GEMINI, ("-r", "3"), None, False),
    ],
)
def test_session_named_in_the_arguments(
    agent: Agent, args: tuple[str, ...], sid: str | None, latest: bool
) -> None:
    got = argv_session(agent, args)
    assert (got.session_id, got.latest) == (sid, latest)


def test_rollout_file_names_carry_the_thread_id() -> None:
    path = f"/home/dev/.codex/sessions/2026/02/04/rollout-2026-02-04T08-21-30-{U1}.jsonl"
    assert rollout_session(path) == U1
    assert rollout_session(f"/home/dev/.codex/history-{U1}.jsonl") is None
    assert rollout_session("/dev/pts/3") is None


def test_registry_file_is_parsed_leniently() -> None:
    ms = parse_registry({"pid": 42, "sessionId": U1, "cwd": "/x", "startedAt": 1.77e12}, 5.0)
    assert ms == RegistryEntry(U1, 42, 1.77e9, 5.0)
    assert parse_registry({"sessionId": U1, "startedAt": 1.77e9}, 5.0) == RegistryEntry(
        U1, None, 1.77e9, 5.0
    )
    assert parse_registry({"pid": 42}, 5.0) is None
    assert parse_registry(["not", "an", "object"], 5.0) is None
    assert parse_registry({"sessionId": U1, "pid": "42", "startedAt": True}, 5.0) == RegistryEntry(
        U1, None, None, 5.0
    )


def facts(pid: int, agent: Agent = CLAUDE, *args: str, **kw: object) -> ProcFacts:
    base: dict[str, object] = {"cwd": "/home/dev/shop", "create_time": T0}
    base.update(kw)
    return ProcFacts(pid, agent, tuple(args), **base)  # type: ignore[arg-type]


def files(*pairs: tuple[str, float]) -> tuple[SessionFile, ...]:
    return tuple(SessionFile(sid, T0 + dt) for sid, dt in pairs)


@pytest.mark.parametrize(
    ("fact", "expected"),
    [
        # the live registry, written after the process started
        (
            facts(1, registry=RegistryEntry(U1, 1, T0 + 0.3, T0 + 0.3)),
            SessionMatch(U1, Confidence.EXACT, "registry"),
        ),
        # a registry left by an older process with the same pid is ignored
        (
            facts(1, CLAUDE, "--resume", U2, registry=RegistryEntry(U1, 1, T0 - 600, T0 - 600)),
            SessionMatch(U2, Confidence.EXACT, "argv"),
        ),
        # a registry naming another pid is ignored
        (
            facts(1, registry=RegistryEntry(U1, 2, T0 + 1, T0 + 1)),
            SessionMatch(),
        ),
        # no startedAt: the file's time decides
        (
            facts(1, registry=RegistryEntry(U1, None, None, T0 + 5)),
            SessionMatch(U1, Confidence.EXACT, "registry"),
        ),
        # argv beats the cwd guess
        (
            facts(1, CLAUDE, "-r", U2, project_sessions=files((U1, 30))),
            SessionMatch(U2, Confidence.EXACT, "argv"),
        ),
        # Codex: the rollout it holds open; the others it holds are candidates
        (
            facts(1, CODEX, open_sessions=(U1, U3)),
            SessionMatch(U1, Confidence.EXACT, "open-file", (U3,)),
        ),
        # cwd: the newest file modified since the start; older ones are not candidates
        (
            facts(1, project_sessions=files((U1, -3600), (U2, 40), (U3, 90))),
            SessionMatch(U3, Confidence.LIKELY, "cwd", (U2,)),
        ),
        (facts(1, project_sessions=files((U1, -3600))), SessionMatch()),
        (
            facts(1, project_sessions=files((U1, -SLACK + 0.5))),
            SessionMatch(U1, Confidence.LIKELY, "cwd"),
        ),
        # --continue picks the newest session of the cwd even before it is written again
        (
            facts(1, CLAUDE, "-c", project_sessions=files((U1, -3600), (U2, -60))),
            SessionMatch(U2, Confidence.LIKELY, "continue", (U1,)),
        ),
        # no cwd, no evidence: unknown
        (facts(1, cwd=None, project_sessions=files((U1, 5))), SessionMatch()),
        (facts(1, GEMINI), SessionMatch()),
    ],
)
def test_mapping_rules(fact: ProcFacts, expected: SessionMatch) -> None:
    assert map_sessions([fact]) == {fact.pid: expected}


def test_several_processes_in_one_cwd_show_candidates_rather_than_guess() -> None:
    recent = files((U1, 10), (U2, 20))
    got = map_sessions([facts(1, project_sessions=recent), facts(2, project_sessions=recent)])
    assert got[1] == got[2] == SessionMatch(candidates=(U2, U1))
    assert got[1].mapping is Confidence.UNKNOWN


def test_a_session_claimed_exactly_is_not_guessed_for_another_process() -> None:
    recent = files((U1, 10), (U2, 20))
    got = map_sessions(
        [
            facts(1, CLAUDE, "--resume", U2, project_sessions=recent),
            facts(2, project_sessions=recent),
        ]
    )
    assert got[1] == SessionMatch(U2, Confidence.EXACT, "argv")
    assert got[2] == SessionMatch(U1, Confidence.LIKELY, "cwd")


def test_processes_of_different_agents_in_one_cwd_do_not_compete() -> None:
    got = map_sessions([facts(1, project_sessions=files((U1, 10))), facts(2, CODEX)])
    assert got[1].session_id == U1
    assert got[2] == SessionMatch()


def test_wrappers_and_relaunches_fold_into_their_parent() -> None:
    parents = {10: 1, 11: 10, 12: 11, 20: 1, 21: 20, 22: 21, 30: 22}
    agents = {
        10: CODEX,  # node .../codex.js
        11: CODEX,  # its native binary: a child, not an agent row
        20: GEMINI,  # node gemini ...
        21: GEMINI,  # relaunch with a bigger heap
        30: CLAUDE,  # `claude -p` run by a Gemini shell tool (22): an agent of its own
    }
    assert top_level(parents, agents) == {10, 20, 30}


def test_descendants_are_breadth_first_and_survive_cycles() -> None:
    kids = {1: [2, 3], 2: [4], 4: [1]}
    assert descendants(1, kids) == [2, 3, 4]
    assert descendants(9, kids) == []


@pytest.mark.parametrize(
    ("foreground", "status", "cpu", "busy", "waiting"),
    [
        (True, ProcStatus.SLEEPING, 0.0, 0, True),
        (True, ProcStatus.SLEEPING, 0.0, 1, False),  # a tool is running
        (True, ProcStatus.SLEEPING, 35.0, 0, False),  # thinking, streaming
        (True, ProcStatus.RUNNING, 0.0, 0, False),
        (True, ProcStatus.SUSPENDED, 0.0, 0, False),
        (False, ProcStatus.SLEEPING, 0.0, 0, False),  # a background job
        (None, ProcStatus.SLEEPING, 0.0, 0, False),  # no terminal / unknown
    ],
)
def test_waiting_on_terminal(
    foreground: bool | None, status: ProcStatus, cpu: float, busy: int, waiting: bool
) -> None:
    got = waiting_on_terminal(
        foreground=foreground, status=status, cpu_percent=cpu, busy_children=busy
    )
    assert got is waiting


def proc(pid: int, sid: str | None, mapping: Confidence, *candidates: str) -> AgentProcess:
    return AgentProcess(
        pid=pid,
        agent=CLAUDE,
        name="claude",
        cmdline=("claude",),
        cwd="/x",
        user="dev",
        create_time=T0,
        cpu_percent=0.0,
        rss_bytes=0,
        children=(),
        status=ProcStatus.SLEEPING,
        terminal=None,
        waiting_on_terminal=False,
        session=SessionMatch(sid, mapping, "argv" if sid else None, candidates),
    )


PROCS = [
    proc(4242, U1, Confidence.EXACT),
    proc(4343, U2, Confidence.LIKELY),
    proc(4444, None, Confidence.UNKNOWN, U3),
    proc(123456, "7c1e2a90-aaaa-4aaa-8aaa-aaaaaaaaaaaa", Confidence.EXACT),
]


@pytest.mark.parametrize(
    ("target", "pids", "sid"),
    [
        ("4242", (4242,), None),
        ("4444", (4444,), None),  # an unmapped process by pid
        (U1, (4242,), U1),
        (U2[:6], (4343,), U2),
        ("123456", (123456,), None),  # all digits: the pid first
    ],
)
def test_targets(target: str, pids: tuple[int, ...], sid: str | None) -> None:
    got = resolve_target(target, PROCS)
    assert got.error is None
    assert (tuple(p.pid for p in got.procs), got.session_id) == (pids, sid)


@pytest.mark.parametrize(
    ("target", "usage", "says"),
    [
        ("0d9a", True, "at least 6"),
        ("7c1e2a90", False, "matches 2 sessions"),
        (U3, False, "candidate pids: 4444"),  # an `unknown` mapping is refused
        ("ffffffff", False, "no agent process matches session"),
        ("99", False, "not an agent process"),
        ("999999", False, "no agent process matches pid or session"),
    ],
)
def test_target_errors(target: str, usage: bool, says: str) -> None:
    got = resolve_target(target, PROCS)
    assert got.procs == ()
    assert got.usage is usage
    assert got.error is not None
    assert says in got.error


def test_a_session_run_by_two_processes_names_both() -> None:
    procs = [proc(1, U1, Confidence.EXACT), proc(2, U1, Confidence.LIKELY)]
    assert [p.pid for p in resolve_target(U1, procs).procs] == [1, 2]
