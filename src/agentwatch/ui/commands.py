"""Command palette providers: go to a session, and the app's actions."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from agentwatch.ui.app import AgentwatchApp


class SessionCommands(Provider):
    """`Go to session …`: by project, session id or model."""

    def _app(self) -> AgentwatchApp:
        from agentwatch.ui.app import AgentwatchApp  # noqa: PLC0415 (circular at import time)

        assert isinstance(self.app, AgentwatchApp)
        return self.app

    async def search(self, query: str) -> Hits:
        """Sessions whose description matches the query."""
        app = self._app()
        matcher = self.matcher(query)
        for key, s in list(app.sessions_table().sessions.items()):
            text = f"Go to session {s.project or '-'} {s.session_id[:8]} {' '.join(s.models)}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(text),
                    partial(app.go_to_session, key),
                    help=f"{s.agent} · {s.status} · {s.session_id}",
                )

    async def discover(self) -> Hits:
        """The ten most recently active sessions."""
        app = self._app()
        recent = sorted(
            app.sessions_table().sessions.items(),
            key=lambda kv: kv[1].last_activity_at or 0.0,
            reverse=True,
        )[:10]
        for key, s in recent:
            yield DiscoveryHit(
                f"Go to session {s.project or '-'} {s.session_id[:8]}",
                partial(app.go_to_session, key),
                help=str(s.status),
            )


class ActionCommands(Provider):
    """The app's actions by name."""

    ACTIONS = (
        ("Sort by the next column", "sort"),
        *(
            (f"Sort by {title}", f"sort_by('{key}')")
            for key, title in (
                ("last", "last activity"),
                ("cost", "cost"),
                ("tokens", "total tokens"),
                ("burn", "burn rate (tokens/min)"),
                ("output", "output tokens"),
                ("cache_r", "cache reads"),
                ("started", "start time"),
                ("project", "project"),
                ("status", "status"),
                ("subs", "sub-agent count"),
            )
        ),
        ("Reverse the order", "reverse"),
        ("Group by project", "group"),
        ("Hide idle sessions", "hide_idle"),
        ("Filter sessions", "filter"),
        ("Show the leaderboard (tokens and what they produced)", "leaderboard"),
        ("Show the keys (help)", "help"),
    )

    async def search(self, query: str) -> Hits:
        """Actions whose name matches."""
        matcher = self.matcher(query)
        for name, action in self.ACTIONS:
            score = matcher.match(name)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(name),
                    partial(self.app.run_action, action),
                    help=f"action: {action}",
                )
