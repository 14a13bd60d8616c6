"""The key bar at the bottom of every screen."""

from __future__ import annotations

from textual import events
from textual.widgets import Footer

COMPACT_BELOW = 100
"""Columns under which the keys are packed tighter (so all of them fit at 80)."""


class KeyBar(Footer):
    """Textual's footer, packed tighter on a narrow terminal."""

    def on_resize(self, event: events.Resize) -> None:
        """Pack the keys when the terminal is narrow."""
        self.compact = event.size.width < COMPACT_BELOW
