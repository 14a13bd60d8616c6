"""A scripted Claude Code agent that writes a real transcript (FORMATS.md section 1).

Each step advances a clock (seconds from the scenario start) and appends the lines Claude Code
would: assistant lines with usage and tool_use blocks (some streamed as two lines of one
response), then a user line with the tool_result and its `toolUseResult`. The context grows
with every result, so token counts look like a real session's (cache reads dominate).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.fixtures.claude import ClaudeTree, Transcript, usage

T0 = 1_770_112_800.0  # 2026-02-03T10:00:00Z
TODO_OK = (
    "Todos have been modified successfully. Ensure that you continue to use the todo list to"
    " track your progress. Please proceed with the current tasks if applicable"
)
COMPACT_AT = 160_000


def iso(t: float) -> str:
    """Epoch seconds as a transcript timestamp (ms, `Z`)."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def file_text(path: str, version: int, lines: int) -> str:
    """What Read returns for a file (short, but stable per path and version)."""
    body = [f"{i:>6}\u2192# {path} v{version} line {i}" for i in range(1, min(lines, 6) + 1)]
    return "\n".join(body)


class Agent:
    """Writes one thread's transcript; `clock` is seconds since the scenario start."""

    def __init__(
        self,
        tree: ClaudeTree,
        t: Transcript,
        seed: str,
        clock: float = 0.0,
        context: int = 18_000,
    ) -> None:
        self.tree = tree
        self.t = t
        self.clock = clock
        self.context = context
        self.fresh = 3_000  # tokens added since the last call (cache writes of the next call)
        self.rng = random.Random(seed)
        self.n = 0
        self.k = 0
        self.pending: str | None = None
        self.marks: dict[str, float] = {}
        self.versions: dict[str, int] = {}
        self.prefix = t.agent_id or "m"

    # ---- bookkeeping ------------------------------------------------------------------------
    def at(self) -> str:
        return iso(T0 + self.clock)

    def wait(self, seconds: float) -> None:
        self.clock += seconds

    def mark(self, name: str) -> None:
        """Remember the current time (a label's onset or clear point)."""
        self.marks[name] = round(self.clock, 3)

    def mark_next(self, name: str) -> None:
        """Remember the time of the next API call (its first line)."""
        self.pending = name

    def jitter(self, lo: float, hi: float) -> float:
        return round(self.rng.uniform(lo, hi), 3)

    # ---- user side --------------------------------------------------------------------------
    def human(self, text: str, after: float = 5.0) -> None:
        """A prompt typed by a person."""
        self.wait(after)
        self.t.user(text, self.at())
        self.fresh += 40 + len(text) // 4

    def meta(self, text: str = "Continue.") -> None:
        """A user line injected by automation (`isMeta`): not a person."""
        self.wait(1.0)
        self.t.user(text, self.at(), isMeta=True)
        self.fresh += 20

    def _compact(self) -> None:
        self.wait(20.0)
        self.t.line(
            "system",
            self.at(),
            subtype="compact_boundary",
            compactMetadata={"trigger": "auto", "preTokens": self.context},
        )
        self.t.user("This session is being continued ...", self.at(), isCompactSummary=True)
        self.context, self.fresh = 30_000, 2_000

    # ---- model side -------------------------------------------------------------------------
    def respond(self, blocks: list[dict[str, Any]], out: int, think: float) -> None:
        """One API call: a response whose lines carry the same usage (2.1.97+ streaming)."""
        if self.context > COMPACT_AT:
            self._compact()
        self.wait(think)
        if self.pending is not None:
            self.mark(self.pending)
            self.pending = None
        self.n += 1
        mid, rid = f"msg_{self.prefix}{self.n:04d}", f"req_{self.prefix}{self.n:04d}"
        u = usage(3, out, self.fresh, 0, self.context)
        if self.rng.random() < 0.5:  # a thinking line first, same message and usage
            thinking = [{"type": "thinking", "thinking": "...", "signature": "sig"}]
            self.t.assistant(mid, rid, u, self.at(), content=thinking)
            self.wait(1.5)
        self.t.assistant(mid, rid, u, self.at(), content=blocks)
        self.context += self.fresh + out
        self.fresh = 0

    def say(self, text: str = "Working on it.", out: int = 600, think: float = 12.0) -> None:
        """A text-only response (ends the turn, unless something drives the agent on)."""
        self.respond([{"type": "text", "text": text}], out, think)

    def tool(
        self,
        name: str,
        args: dict[str, Any],
        text: str,
        result: Any,
        *,
        error: bool = False,
        run: float = 2.0,
        think: float | None = None,
        out: int | None = None,
    ) -> str:
        """One call with one tool_use block, then its result line."""
        self.k += 1
        tid = f"toolu_{self.prefix}{self.k:04d}"
        block = {"type": "tool_use", "id": tid, "name": name, "input": args}
        think = self.jitter(4.0, 14.0) if think is None else think
        out = int(self.jitter(80, 400)) if out is None else out
        self.respond([{"type": "text", "text": "Next step."}, block], out, think)
        self.wait(run)
        self.t.tool_result(tid, self.at(), result, is_error=error, text=text)
        self.fresh += 60 + len(text) // 3
        return tid

    # ---- tools ------------------------------------------------------------------------------
    def read(self, path: str, lines: int = 150, offset: int | None = None) -> None:
        args: dict[str, Any] = {"file_path": path}
        text = file_text(path, self.versions.get(path, 0), lines)
        if offset is not None:
            args |= {"offset": offset, "limit": 200}
            text = f"{text}\n(from line {offset})"
        res = {"type": "text", "file": {"filePath": path, "content": text, "numLines": lines}}
        self.tool("Read", args, text, res, run=0.3)
        self.fresh += lines * 12

    def edit(self, path: str, added: int = 4, removed: int = 2) -> None:
        self.versions[path] = self.versions.get(path, 0) + 1
        lines = [" ctx"] + ["-old"] * removed + ["+new"] * added + [" ctx"]
        patch = [{"oldStart": 10, "oldLines": removed + 2, "newStart": 10, "newLines": added + 2}]
        patch[0]["lines"] = lines  # type: ignore[assignment]
        res = {
            "filePath": path,
            "oldString": "old",
            "newString": "new",
            "originalFile": "...",
            "structuredPatch": patch,
            "userModified": False,
            "replaceAll": False,
        }
        args = {"file_path": path, "old_string": "old", "new_string": "new"}
        self.tool("Edit", args, f"The file {path} has been updated.", res, run=0.4, out=700)

    def write(self, path: str, lines: int = 40) -> None:
        self.versions[path] = self.versions.get(path, 0) + 1
        content = "\n".join(f"line {i}" for i in range(lines))
        res = {"type": "create", "filePath": path, "content": content, "structuredPatch": []}
        args = {"file_path": path, "content": content}
        self.tool("Write", args, f"File created successfully at: {path}", res, out=1500)

    def bash(self, cmd: str, output: str, *, error: bool = False, run: float = 3.0) -> None:
        if error:
            text = f"Error: Exit code 1\n{output}"
            self.tool("Bash", {"command": cmd}, text, text, error=True, run=run)
        else:
            res = {"stdout": output, "stderr": "", "interrupted": False, "isImage": False}
            self.tool("Bash", {"command": cmd}, output, res, run=run)

    def bash_output(self, shell: str, output: str, status: str = "running") -> None:
        text = f"<status>{status}</status>\n\n<stdout>\n{output}\n</stdout>"
        res = {"shellId": shell, "status": status, "stdout": output, "stderr": ""}
        self.tool("BashOutput", {"bash_id": shell}, text, res, run=0.2)

    def grep(self, pattern: str, files: list[str]) -> None:
        text = f"Found {len(files)} files\n" + "\n".join(files)
        res = {"mode": "files_with_matches", "filenames": files, "numFiles": len(files)}
        self.tool("Grep", {"pattern": pattern}, text, res, run=0.5)

    def glob(self, pattern: str, files: list[str]) -> None:
        res = {"filenames": files, "numFiles": len(files), "durationMs": 9, "truncated": False}
        self.tool("Glob", {"pattern": pattern}, "\n".join(files), res, run=0.2)

    def todo(self, *items: str) -> None:
        todos = [{"content": i, "status": "pending", "activeForm": i} for i in items]
        res = {"oldTodos": [], "newTodos": todos}
        self.tool("TodoWrite", {"todos": todos}, TODO_OK, res, run=0.1)

    def web(self, query: str) -> None:
        text = f"Web search results for query: {query}\n- result one\n- result two"
        self.tool("WebSearch", {"query": query}, text, {"query": query, "results": []}, run=4.0)

    def exit_plan(self, plan: str, *, rejected: bool) -> None:
        if rejected:
            text = "The user doesn't want to proceed with this tool use. The tool use was rejected"
            self.tool("ExitPlanMode", {"plan": plan}, text, f"Error: {text}", error=True, run=30)
        else:
            self.tool("ExitPlanMode", {"plan": plan}, "User has approved your plan.", {}, run=20)

    def task(
        self, agent_id: str, description: str, body: Callable[[Agent], None], kind: str = "Explore"
    ) -> Agent:
        """Spawn a sub-agent (its own transcript under `subagents/`) and wait for it."""
        prompt = f"{description}: report back"
        args = {"description": description, "prompt": prompt, "subagent_type": kind}
        self.k += 1
        tid = f"toolu_{self.prefix}{self.k:04d}"
        block = {"type": "tool_use", "id": tid, "name": "Task", "input": args}
        self.respond([block], 300, self.jitter(5, 10))
        sub_t = self.tree.subagent(self.t, agent_id)
        sub = Agent(self.tree, sub_t, f"{agent_id}", self.clock + 1.0, context=12_000)
        sub.t.user(prompt, sub.at())
        body(sub)
        self.clock = sub.clock + 2.0
        res = {
            "status": "completed",
            "agentId": agent_id,
            "content": [{"type": "text", "text": "Findings: ..."}],
            "totalDurationMs": 1000,
            "totalTokens": sub.context,
            "totalToolUseCount": sub.n,
        }
        self.t.tool_result(tid, self.at(), res, text="Findings: ...")
        self.fresh += 1500
        self.marks |= {f"{agent_id}.{k}": v for k, v in sub.marks.items()}
        return sub
