"""`agentwatch demo` (CLI_CONTRACT section 1); registered on `cli` on import."""

from __future__ import annotations
