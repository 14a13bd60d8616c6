"""Renderers: report summaries as JSON (the contract), a text table, CSV, Markdown and HTML.

This package's own module holds only what the command line needs before it knows the format
(so `agentwatch ps` or `watch` never import the renderers).
"""

from __future__ import annotations

import re

FORMATS = ("table", "json", "csv", "md", "html")
"""What `report --format` accepts."""
TEXT_FORMATS = ("json", "md", "html")
"""Formats that can carry prompts and tool text (`--include-text`)."""

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text for a terminal: control characters from logs (escape sequences that set the title,
    clear the screen or write the clipboard) are dropped; newlines and tabs stay."""
    return _CONTROL.sub("", text)
