"""The `--on-loop` guard's decisions: when a loop alert has been open long enough to act on.

Pure: it sees the engine's alerts and the time, and says which sessions are due for the
configured action. Acting (signals) is infra's job. A session is acted on once per episode:
it is re-armed only after all of its qualifying alerts have ended.

What qualifies: an active alert of severity `warning` or worse, of any kind except
`unattended` (nobody at the keyboard is a fact about the person, not a loop). The grace
period runs from when agentwatch first saw the alert open, not from its onset in the log, so
an alert found in history at start-up still gives the user the whole grace period to react.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from agentwatch.core.alerts import Alert, AlertKind, Severity
from agentwatch.core.records import ThreadKey

_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class GuardAction(StrEnum):
    """What to do about a session that keeps looping."""

    NOTIFY = "notify"
    """Only say so (alerts, notifications); never signal."""
    SUSPEND = "suspend"
    """SIGSTOP the agent's process tree (resume it with `agentwatch resume`)."""
    KILL = "kill"
    """SIGTERM the tree, SIGKILL what survives the grace."""


@dataclass(frozen=True, slots=True)
class Due:
    """A session whose loop has outlasted the grace period."""

    session: ThreadKey
    """The session (main thread key)."""
    alert: Alert
    """The qualifying alert open longest (the one to cite)."""
    action: GuardAction
    """What to do."""


def qualifies(alert: Alert, min_severity: Severity = Severity.WARNING) -> bool:
    """True for an open loop alert the guard acts on."""
    return (
        alert.active
        and alert.kind is not AlertKind.UNATTENDED
        and _RANK[alert.severity] >= _RANK[min_severity]
    )


class LoopGuard:
    """Tracks how long each qualifying alert has been open; says when a session is due."""

    def __init__(
        self,
        action: GuardAction,
        grace_s: float,
        min_severity: Severity = Severity.WARNING,
    ) -> None:
        self.action = action
        self.grace_s = grace_s
        self.min_severity = min_severity
        self._since: dict[tuple[ThreadKey, str], float] = {}
        self._acted: set[ThreadKey] = set()

    @property
    def active(self) -> bool:
        """False for `notify`: nothing to decide."""
        return self.action is not GuardAction.NOTIFY

    def due(self, alerts: Mapping[ThreadKey, Mapping[str, Alert]], now: float) -> list[Due]:
        """Sessions to act on now; each is returned once per episode."""
        if not self.active:
            return []
        open_now: dict[tuple[ThreadKey, str], Alert] = {
            (session, alert_id): a
            for session, per in alerts.items()
            for alert_id, a in per.items()
            if qualifies(a, self.min_severity)
        }
        for k in [k for k in self._since if k not in open_now]:
            del self._since[k]
        for k in open_now:
            self._since.setdefault(k, now)
        looping = {session for session, _ in open_now}
        self._acted &= looping  # an episode over: the session is re-armed
        out: list[Due] = []
        for session in sorted(looping - self._acted):
            ripe = [
                (self._since[(s, aid)], aid)
                for (s, aid) in open_now
                if s == session and now - self._since[(s, aid)] >= self.grace_s
            ]
            if ripe:
                _, aid = min(ripe)
                self._acted.add(session)
                out.append(Due(session, open_now[(session, aid)], self.action))
        return out


__all__ = ["Due", "GuardAction", "LoopGuard", "qualifies"]
