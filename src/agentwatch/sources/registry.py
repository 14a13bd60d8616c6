"""Every source agentwatch knows, by agent name (for worker processes and the index)."""

from __future__ import annotations

from agentwatch.sources import claude_code, codex, gemini
from agentwatch.sources.base import Source

SOURCES: dict[str, Source] = {
    str(source.agent): source for source in (claude_code.SOURCE, codex.SOURCE, gemini.SOURCE)
}


def by_agent(name: str) -> Source | None:
    """The source for an agent name (`claude-code`), or None."""
    return SOURCES.get(name)
