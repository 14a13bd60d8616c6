"""Messages that carry the feed's updates into the UI thread."""

from __future__ import annotations

from textual.message import Message

from agentwatch.infra.feed import Update


class FeedUpdate(Message):
    """An update from the live feed (sessions, headline, progress or a warning).

    Carries events, so never `can_replace`: each one holds different sessions.
    """

    def __init__(self, update: Update) -> None:
        self.update = update
        super().__init__()
