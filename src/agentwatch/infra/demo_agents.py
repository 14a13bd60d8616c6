"""Simulated agent threads for the demo: a scheduler of scripted steps, and Claude Code and Codex
threads that turn "call this tool" into the lines those agents write."""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentwatch.infra.demo_logs import ClaudeLog, CodexLog, Ids, Ledger, Use, iso

COMPACT_AT = 40_000
"""Context size at which a simulated session compacts."""

Steps = Iterator[float]
"""A script: it writes lines, then yields the seconds until its next step."""


@dataclass(eq=False, slots=True)
class Task:
    """A running script."""

    steps: Steps
    owner: str
    """The session it belongs to (stopping the session stops it)."""
    done: bool = False


class Stage:
    """Runs scripts in simulated time; `t` is the time stamped on the lines being written."""

    def __init__(self, start: float, seed: int) -> None:
        self.t = start
        self.rng = random.Random(seed)  # noqa: S311 (a simulation, not a secret)
        self.ids = Ids(self.rng)
        self.ledger = Ledger()
        self.stopped: set[str] = set()
        self.paused: set[str] = set()
        self._queue: list[tuple[float, int, Task]] = []
        self._n = 0

    def spawn(self, steps: Steps, owner: str, at: float | None = None) -> Task:
        """Start a script at `at` (default: now)."""
        task = Task(steps, owner)
        self._push(self.t if at is None else at, task)
        return task

    def _push(self, at: float, task: Task) -> None:
        self._n += 1
        heapq.heappush(self._queue, (at, self._n, task))

    def advance(self, now: float) -> None:
        """Run every step due at or before `now`, in time order."""
        while self._queue and self._queue[0][0] <= now:
            due, _, task = heapq.heappop(self._queue)
            if task.owner in self.stopped:
                task.done = True
                continue
            if task.owner in self.paused:  # its process is suspended: it writes nothing
                self._push(max(due, now) + 0.5, task)
                continue
            self.t = due
            try:
                delay = next(task.steps)
            except StopIteration:
                task.done = True
                continue
            self._push(self.t + max(delay, 0.05), task)

    def stop(self, owner: str) -> None:
        """Stop a session's scripts (its agent process died): nothing more is written for it."""
        self.stopped.add(owner)

    def wait(self, task: Task) -> Steps:
        """Steps that end when `task` has finished."""
        while not task.done:
            yield 1.0


@dataclass(slots=True)
class Claude:
    """A Claude Code thread: its log, model and context size (what the next call reads)."""

    stage: Stage
    log: ClaudeLog
    model: str
    context: int
    legacy: bool = False
    """Before 2.1.97: early lines of a response carry a placeholder output count."""
    parent: Claude | None = None
    spawned_by: str | None = None
    """The parent's Task call (sub-agents)."""
    fresh: int = 0
    """Tokens added to the context since the last call (results, prompts)."""
    calls: int = 0
    last: Use | None = None

    def human(self, text: str) -> Steps:
        """A person types a prompt."""
        self.log.prompt(self.stage.t, text)
        self.fresh += len(text) // 3 + 40
        yield self.stage.rng.uniform(1.5, 3.0)

    def respond(self, blocks: list[dict[str, Any]], out: int) -> Steps:
        """One streamed response: a line per content block, a fraction of a second apart."""
        rng, ids = self.stage.rng, self.stage.ids
        msg, req = ids.msg(), ids.req()
        yield out / rng.uniform(50.0, 90.0)  # the model writes: the lines come when blocks end
        if self.calls == 0:
            use = Use(rng.randint(3, 9), out, self.context + self.fresh, 0)
        else:
            use = Use(rng.randint(1, 12), out, self.fresh + rng.randint(20, 200), self.context)
        for i, block in enumerate(blocks):
            if i:
                yield rng.uniform(0.3, 1.1)
            final = i == len(blocks) - 1
            early = Use(use.inp, rng.randint(1, 12), use.cache_write, use.cache_read)
            u = use if final or not self.legacy else early
            line = self.log.assistant(self.stage.t, msg, req, self.model, block, u, final=final)
            if self.parent is not None and self.spawned_by is not None:
                aid = self.log.agent_id or ""
                self.parent.log.agent_progress(self.stage.t, aid, self.spawned_by, line)
        self.calls += 1
        self.context = use.cache_read + use.cache_write + use.inp
        self.fresh = out
        self.last = use

    def say(self, text: str, out: int | None = None) -> Steps:
        """A response with text only (a turn's last word)."""
        yield from self.respond([{"type": "text", "text": text}], out or len(text) // 3 + 60)

    def tool(
        self,
        name: str,
        inp: dict[str, Any],
        result: str,
        extra: Any,
        *,
        say: str | None = None,
        error: bool = False,
        took: float = 1.0,
        out: int | None = None,
    ) -> Steps:
        """A response calling one tool, then its result `took` seconds later."""
        rng = self.stage.rng
        tid = self.stage.ids.toolu()
        blocks: list[dict[str, Any]] = []
        if self.legacy:
            blocks.append(
                {
                    "type": "thinking",
                    "thinking": "Planning the next step.",
                    "signature": "Eu" + self.stage.ids.hex(40),
                }
            )
        if say:
            blocks.append({"type": "text", "text": say})
        blocks.append({"type": "tool_use", "id": tid, "name": name, "input": inp})
        yield from self.respond(blocks, out or rng.randint(90, 700))
        yield took
        self.log.result(self.stage.t, tid, result, extra, error=error)
        self.fresh += len(result) // 3 + 30
        yield rng.uniform(0.8, 2.5)

    def compact(self, summary: str) -> Steps:
        """Compaction: a boundary, the summarizing call in `agent-acompact-*`, the summary."""
        st = self.stage
        self.log.system(
            st.t, "compact_boundary", compactMetadata={"trigger": "auto", "preTokens": self.context}
        )
        aid = "acompact-" + st.ids.hex(6)
        log = ClaudeLog(
            self.log.path.parent / self.log.session_id / "subagents" / f"agent-{aid}.jsonl",
            self.log.session_id,
            self.log.cwd,
            self.log.version,
            st.ledger,
            st.ids,
            aid,
            self.log.branch,
        )
        log.prompt(st.t, "Summarize the conversation so far for a continuation.", parentUuid=None)
        yield st.rng.uniform(4.0, 8.0)
        use = Use(st.rng.randint(3, 9), st.rng.randint(1800, 3200), 0, self.context)
        block = {"type": "text", "text": summary}
        log.assistant(st.t, st.ids.msg(), st.ids.req(), self.model, block, use, final=True)
        self.log.prompt(st.t, summary, isCompactSummary=True, parentUuid=None)
        self.context, self.fresh, self.calls = 9000 + use.out, 0, 0
        yield 1.0

    def subagent(
        self, agent_type: str, description: str, prompt: str, model: str
    ) -> tuple[Claude, dict[str, Any]]:
        """A sub-agent thread (2.1.x layout, with its `.meta.json`) and the parent's Task block."""
        st = self.stage
        aid = "a" + st.ids.hex(16)
        tid = st.ids.toolu()
        folder = self.log.path.parent / self.log.session_id / "subagents"
        folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "agentType": agent_type,
            "description": description,
            "toolUseId": tid,
            "spawnDepth": 1,
            "model": model,
        }
        (folder / f"agent-{aid}.meta.json").write_text(json.dumps(meta))
        log = ClaudeLog(
            folder / f"agent-{aid}.jsonl",
            self.log.session_id,
            self.log.cwd,
            self.log.version,
            st.ledger,
            st.ids,
            aid,
            self.log.branch,
        )
        sub = Claude(st, log, model, st.rng.randint(7000, 11000), parent=self, spawned_by=tid)
        block = {
            "type": "tool_use",
            "id": tid,
            "name": "Task",
            "input": {"description": description, "prompt": prompt, "subagent_type": agent_type},
        }
        return sub, block


@dataclass(slots=True)
class Codex:
    """A Codex thread: its rollout, model and context size."""

    stage: Stage
    log: CodexLog
    model: str
    context: int
    fresh: int = 0
    turn_id: str = ""

    def task(self, text: str) -> Steps:
        """A person starts a task: a new turn."""
        st = self.stage
        self.turn_id = st.ids.uuid4()
        self.log.event(st.t, "task_started", turn_id=self.turn_id, model_context_window=272000)
        self.log.turn(st.t, self.model, self.turn_id)
        self.log.user(st.t, text)
        self.fresh += len(text) // 3 + 40
        yield st.rng.uniform(1.5, 3.0)

    def _usage(self, out: int) -> None:
        rng = self.stage.rng
        cached = self.context
        fresh = self.fresh + rng.randint(200, 900)
        reasoning = int(out * rng.uniform(0.3, 0.6))
        self.log.usage(self.stage.t, fresh, cached, out, reasoning)
        self.context = cached + fresh + out
        self.fresh = 0

    def shell(self, command: str, output: str, exit_code: int = 0, took: float = 1.5) -> Steps:
        """A `shell_command` call, its `exec_command_end` and output, then the response's usage."""
        st = self.stage
        yield st.rng.uniform(2.0, 6.0)  # the model thinks
        call = st.ids.call()
        self.log.item(
            st.t,
            "reasoning",
            summary=[{"type": "summary_text", "text": "**Checking the code**"}],
            encrypted_content="gAAAA" + st.ids.hex(48),
        )
        args = json.dumps({"command": command, "workdir": self.log.cwd, "timeout_ms": 120000})
        self.log.item(st.t, "function_call", name="shell_command", arguments=args, call_id=call)
        self._usage(st.rng.randint(60, 400))
        yield took
        self.log.event(
            st.t,
            "exec_command_end",
            call_id=call,
            turn_id=self.turn_id,
            command=["bash", "-lc", command],
            cwd=self.log.cwd,
            exit_code=exit_code,
            aggregated_output=output,
            duration={"secs": int(took), "nanos": 0},
        )
        text = f"Exit code: {exit_code}\nWall time: {took:.1f} seconds\nOutput:\n{output}"
        self.log.item(st.t, "function_call_output", call_id=call, output=text)
        self.fresh += len(output) // 3 + 60
        yield st.rng.uniform(1.0, 3.0)

    def patch(self, rel: str, diff: str) -> Steps:
        """An `apply_patch` call and its `patch_apply_end`, then the usage."""
        st = self.stage
        yield st.rng.uniform(2.0, 6.0)  # the model thinks
        call = st.ids.call()
        text = f"*** Begin Patch\n*** Update File: {rel}\n{diff}\n*** End Patch\n"
        self.log.item(
            st.t,
            "custom_tool_call",
            status="completed",
            call_id=call,
            name="apply_patch",
            input=text,
        )
        self._usage(st.rng.randint(200, 900))
        yield st.rng.uniform(0.3, 0.8)
        path = f"{self.log.cwd}/{rel}"
        changes = {path: {"type": "update", "unified_diff": diff, "move_path": None}}
        self.log.event(
            st.t,
            "patch_apply_end",
            call_id=call,
            turn_id=self.turn_id,
            stdout=f"Success. Updated the following files:\nM {rel}\n",
            stderr="",
            success=True,
            changes=changes,
        )
        self.log.item(
            st.t,
            "custom_tool_call_output",
            call_id=call,
            output=json.dumps(
                {
                    "output": f"Success. Updated the following files:\nM {rel}\n",
                    "metadata": {"exit_code": 0, "duration_seconds": 0.1},
                }
            ),
        )
        yield st.rng.uniform(1.0, 3.0)

    def finish(self, text: str) -> Steps:
        """The turn's closing message."""
        st = self.stage
        yield st.rng.uniform(2.0, 6.0)  # the model thinks
        self.log.item(
            st.t, "message", role="assistant", content=[{"type": "output_text", "text": text}]
        )
        self.log.event(st.t, "agent_message", message=text)
        self._usage(len(text) // 3 + 80)
        self.log.event(st.t, "task_complete", turn_id=self.turn_id, last_agent_message=text)
        if self.context > COMPACT_AT:  # Codex compacts too: the next calls read less
            self.log.put(st.t, "compacted", {"message": "", "replacement_history": []})
            self.log.event(st.t, "context_compacted")
            self.context = 12_000
        yield 1.0

    def child(self, path: Path, thread_id: str, role: str, nickname: str) -> Codex:
        """A collab sub-agent: its own rollout, opening with the parent's history replayed (X5)."""
        st = self.stage
        log = CodexLog(
            path, thread_id, self.log.cwd, self.log.version, st.ledger, parent=self.log.thread_id
        )
        spawn = {
            "parent_thread_id": self.log.thread_id,
            "depth": 1,
            "agent_nickname": nickname,
            "agent_role": role,
        }
        log.meta(
            st.t,
            {"subagent": {"thread_spawn": spawn}},
            parent_thread_id=self.log.thread_id,
            agent_nickname=nickname,
            agent_role=role,
        )
        stamp = iso(st.t)
        for text in list(self.log.texts):
            obj = json.loads(text)
            obj["timestamp"] = stamp
            log.raw(obj)
        self.log.event(
            st.t,
            "collab_agent_spawn_end",
            call_id=st.ids.call(),
            new_thread_id=thread_id,
            new_agent_role=role,
            new_agent_nickname=nickname,
            model=self.model,
        )
        return Codex(st, log, self.model, st.rng.randint(6000, 9000))
