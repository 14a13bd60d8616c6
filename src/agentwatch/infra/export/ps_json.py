"""`ps --json`: CLI_CONTRACT section 5."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentwatch.core.procs import AgentProcess
from agentwatch.infra.export.json_report import iso


def process(p: AgentProcess) -> dict[str, Any]:
    """One entry of `processes`: the contract's fields, then additions."""
    return {
        "pid": p.pid,
        "agent": p.agent.value,
        "name": p.name,
        "cmdline": list(p.cmdline),
        "cwd": p.cwd,
        "user": p.user,
        "started_at": iso(p.create_time),
        "cpu_percent": float(p.cpu_percent),
        "rss_bytes": p.rss_bytes,
        "children": list(p.children),
        "session_id": p.session.session_id,
        "mapping": p.session.mapping.value,
        "status": p.status.value,
        # additions (the contract allows new fields)
        "mapping_source": p.session.source,
        "session_candidates": list(p.session.candidates),
        "terminal": p.terminal,
        "waiting_on_terminal": p.waiting_on_terminal,
    }


def document(procs: Sequence[AgentProcess]) -> dict[str, Any]:
    """The whole `ps --json` document."""
    return {"processes": [process(p) for p in procs]}
