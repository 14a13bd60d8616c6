"""The loop detectors: pure functions of a session's activity model and the time.

Every detector looks for *runs*: events with no progress between them. Progress is a file
change (the thread's own edits, or a filesystem watch) or a human turn; a run also ends when
it goes quiet for `quiet_s`. Only events up to `now` count, so evaluating the same history at
the same `now` always gives the same alerts, with the same ids (docs/loop-detection.md).
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from agentwatch.core.activity import Outcome, SessionActivity, ThreadActivity
from agentwatch.core.alerts import (
    Alert,
    AlertKind,
    Severity,
    Signal,
    diff_alerts,
    fmt_duration,
    fmt_tokens,
)
from agentwatch.core.redact import redact
from agentwatch.core.thresholds import Thresholds

__all__ = [
    "Alert",
    "AlertKind",
    "Severity",
    "Signal",
    "Thresholds",
    "diff_alerts",
    "evaluate",
    "signal",
]

DEFAULTS = Thresholds()
_first = itemgetter(0)


@dataclass(slots=True)
class _Run:
    """Events of one kind with no progress between them."""

    times: list[float] = field(default_factory=list)
    items: list[Any] = field(default_factory=list)
    end: float | None = None

    def add(self, ts: float, item: Any) -> None:
        self.times.append(ts)
        self.items.append(item)


def _end(last: float, resets: Sequence[float], until: float, quiet: float) -> float | None:
    """When a run whose last event was at `last` ended, looking as far as `until`: at the first
    progress after it, or `quiet` seconds after it; None if neither has happened yet."""
    i = bisect_right(resets, last)
    reset = resets[i] if i < len(resets) and resets[i] <= until else None
    gone = last + quiet if until - last > quiet else None
    if reset is None:
        return gone
    return reset if gone is None else min(reset, gone)


def _detect(times: Sequence[float], k: int, window: float) -> int | None:
    """Index of the event at which `k` of them first fall within `window`."""
    for i in range(k - 1, len(times)):
        if times[i] - times[i - k + 1] <= window:
            return i
    return None


# ---- the runs ----------------------------------------------------------------------------
def _call_runs(
    outs: Iterable[Outcome], resets: Sequence[float], now: float, q: float
) -> list[_Run]:
    """Per signature: the same call failing again and again (results may differ in details such
    as timings), or succeeding with the same result; a different outcome ends the run."""
    by_sig: dict[str, list[Outcome]] = {}
    for o in outs:
        if not o.read and not o.neutral:
            by_sig.setdefault(o.sig, []).append(o)
    runs: list[_Run] = []
    for seq in by_sig.values():
        run: _Run | None = None
        for o in seq:
            if run is not None:
                end = _end(run.times[-1], resets, o.ts, q)
                head = run.items[0]
                same = (not o.ok) if not head.ok else (o.ok and o.digest == head.digest)
                if not same:
                    end = o.ts if end is None else min(end, o.ts)
                if end is not None:
                    run.end = end
                    runs.append(run)
                    run = None
            if run is None:
                run = _Run()
            run.add(o.ts, o)
        if run is not None:
            run.end = _end(run.times[-1], resets, now, q)
            runs.append(run)
    return runs


def _reread_runs(
    outs: Iterable[Outcome], resets: Sequence[float], now: float, q: float
) -> list[_Run]:
    """Reads of a file already read, unchanged, since the last progress."""
    runs: list[_Run] = []
    run: _Run | None = None
    seen: set[tuple[str, str]] = set()
    done = 0  # resets already applied to `seen`
    for o in outs:
        if not o.read:
            continue
        passed = bisect_right(resets, o.ts)
        if passed > done:
            seen.clear()
            done = passed
        if (o.sig, o.digest) not in seen:
            seen.add((o.sig, o.digest))
            continue
        if run is not None:
            run.end = _end(run.times[-1], resets, o.ts, q)
            if run.end is not None:
                runs.append(run)
                run = None
        if run is None:
            run = _Run()
        run.add(o.ts, o)
    if run is not None:
        run.end = _end(run.times[-1], resets, now, q)
        runs.append(run)
    return runs


def _usage_runs(
    usage: Sequence[tuple[float, int, bool]], acts: Sequence[float], now: float, q: float
) -> list[_Run]:
    """API calls with no activity (`acts`) between them."""
    runs: list[_Run] = []
    run: _Run | None = None
    for u in usage:
        if run is not None:
            run.end = _end(run.times[-1], acts, u[0], q)
            if run.end is not None:
                runs.append(run)
                run = None
        if run is None:
            run = _Run()
        run.add(u[0], u)
    if run is not None:
        run.end = _end(run.times[-1], acts, now, q)
        runs.append(run)
    return runs


def _detect_burn(run: _Run, calls: int, tokens: int, window: float) -> int | None:
    """Index at which the run has made `calls` calls burning `tokens` within `window`."""
    lo = n_calls = n_tokens = 0
    for i, (ts, delta, new) in enumerate(run.items):
        n_calls += new
        n_tokens += delta
        while run.times[lo] < ts - window:
            n_calls -= run.items[lo][2]
            n_tokens -= run.items[lo][1]
            lo += 1
        if n_calls >= calls and n_tokens >= tokens:
            return i
    return None


# ---- alerts --------------------------------------------------------------------------------
@dataclass(slots=True)
class _Ctx:
    """One thread's evaluation: shared inputs and the alert factory."""

    t: ThreadActivity
    now: float
    th: Thresholds
    usage: Sequence[tuple[float, int, bool]]
    out: list[Alert] = field(default_factory=list)

    def tokens(self, start: float, stop: float) -> int:
        lo = bisect_left(self.usage, start, key=_first)
        hi = bisect_right(self.usage, stop, key=_first)
        return sum(u[1] for u in self.usage[lo:hi])

    def alert(
        self,
        kind: AlertKind,
        key: str,
        run: _Run,
        detected: int,
        reason: str,
        start: float | None = None,
        **evidence: Any,
    ) -> None:
        start = run.times[0] if start is None else start
        stop = run.end if run.end is not None else self.now
        tokens = self.tokens(start, stop)
        th = self.th
        if kind is AlertKind.UNATTENDED:
            severity = Severity.INFO
        elif tokens >= th.critical_tokens or stop - start >= th.critical_after_s:
            severity = Severity.CRITICAL
        else:
            severity = Severity.WARNING
        k = self.t.key
        raw = f"{k.agent}|{k.session_id}|{k.agent_id}|{kind}|{key}|{start:.3f}"
        alert_id = f"{kind}-{hashlib.blake2b(raw.encode(), digest_size=6).hexdigest()}"
        evidence["first_at"] = start
        evidence.setdefault("last_at", run.times[-1])
        # Alerts travel (reports, exports, `watch` events): a looping command's secrets stay home.
        for name in ("call", "signature"):
            if isinstance(evidence.get(name), str):
                evidence[name] = redact(evidence[name]).text
        reason = redact(reason.replace("{tokens}", fmt_tokens(max(tokens, 0)))).text
        self.out.append(
            Alert(
                alert_id,
                k,
                kind,
                severity,
                start,
                run.times[detected],
                run.end,
                reason,
                tokens,
                evidence,
            )
        )


def _display(o: Outcome) -> str:
    if o.target is None:
        return o.name
    text = o.target if len(o.target) <= 60 else o.target[:57] + "..."
    return f"`{text}`" if o.name == "Bash" else f"{o.name} `{text}`"


def _basename(path: str) -> str:
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def _repeats(c: _Ctx, outs: Sequence[Outcome], resets: Sequence[float]) -> None:
    th = c.th
    for run in _call_runs(outs, resets, c.now, th.quiet_s):
        head: Outcome = run.items[0]
        failing = not head.ok
        i = _detect(run.times, th.error_count if failing else th.repeat_count, th.window_s)
        if i is None:
            continue
        n, span = len(run.items), fmt_duration(run.times[-1] - head.called)
        outputs = len({o.digest for o in run.items})
        call = _display(head)
        if not failing:
            kind, what = AlertKind.REPETITION, f"{call} returned the same result {n} times"
        elif outputs == 1:
            kind, what = AlertKind.ERROR_LOOP, f"{call} failed the same way {n} times"
        else:
            kind, what = AlertKind.ERROR_LOOP, f"{call} failed {n} times ({outputs} outputs)"
        reason = f"{what} in {span}; {{tokens}} tokens, no file changed"
        c.alert(
            kind, head.sig, run, i, reason, head.called,
            count=n, call=call, tool=head.name, signature=head.sig, outputs=outputs,
        )  # fmt: skip


def _rereads(c: _Ctx, outs: Sequence[Outcome], resets: Sequence[float]) -> None:
    th = c.th
    for run in _reread_runs(outs, resets, c.now, th.quiet_s):
        i = _detect(run.times, th.reread_count, th.window_s)
        if i is None:
            continue
        files = Counter(o.target for o in run.items)
        names = [f"`{_basename(p)}`" for p, _ in files.most_common(2)]
        more = f" and {len(files) - 2} more" if len(files) > 2 else ""
        n, span = len(run.items), fmt_duration(run.times[-1] - run.items[0].called)
        reason = (
            f"re-read {' and '.join(names)}{more} {n} times in {span} with no edit in between;"
            " {tokens} tokens"
        )
        start = run.items[0].called
        c.alert(AlertKind.REREAD_LOOP, "", run, i, reason, start, rereads=n, files=dict(files))


def _idle(c: _Ctx, acts: Sequence[float]) -> None:
    th = c.th
    for run in _usage_runs(c.usage, acts, c.now, th.quiet_s):
        i = _detect_burn(run, th.idle_calls, th.idle_tokens, th.window_s)
        if i is None:
            continue
        calls = sum(u[2] for u in run.items)
        span = fmt_duration(run.times[-1] - run.times[0])
        reason = (
            f"{calls} API calls in {span} with no tool use, file change or human turn;"
            " {tokens} tokens"
        )
        c.alert(AlertKind.IDLE_BURN, "", run, i, reason, calls=calls)


def _unattended(c: _Ctx, humans: Sequence[float]) -> None:
    t, th = c.t, c.th
    later = [u for u in c.usage if u[0] - _last_human(t, humans, u[0]) >= th.unattended_after_s]
    for run in _usage_runs(later, humans, c.now, th.quiet_s):
        since = _last_human(t, humans, run.times[0])
        # measured to the last call while open: time alone never changes an alert
        quiet_for = fmt_duration((run.end if run.end is not None else run.times[-1]) - since)
        reason = f"no human turn for {quiet_for} while tokens keep flowing; {{tokens}} tokens"
        calls = sum(u[2] for u in run.items)
        c.alert(AlertKind.UNATTENDED, "", run, 0, reason, calls=calls, last_human_at=since)


def _last_human(t: ThreadActivity, humans: Sequence[float], ts: float) -> float:
    i = bisect_right(humans, ts)
    if i:
        return humans[i - 1]
    if t.last_human_ts is not None and t.last_human_ts <= ts:
        return t.last_human_ts
    return t.first_ts if t.first_ts is not None else ts


def evaluate(
    activity: SessionActivity, now: float, th: Thresholds = DEFAULTS, *, since: float | None = None
) -> list[Alert]:
    """Alerts of a session's threads as of `now`: active ones and those that ended at or after
    `since` (default: `th.keep_ended_s` before now; pass `-math.inf` for a whole history).

    Pure: reads only events up to `now`, changes nothing.
    """
    since = now - th.keep_ended_s if since is None else since
    last = activity.last_ts
    if last is not None and last + th.quiet_s < since:
        return []  # every run ended (by quiet time at the latest) before `since`: none is kept
    out: list[Alert] = []
    for t in activity.threads.values():
        # Events past the thread's retention count as forgotten whether or not they were
        # pruned yet (it prunes now and then), so the answer never depends on when it did.
        past = _horizon(t, now)
        usage = t.usage[
            bisect_right(t.usage, past, key=_first) : bisect_right(t.usage, now, key=_first)
        ]
        c = _Ctx(t, now, th, usage)
        outs = t.outcomes[
            bisect_right(t.outcomes, past, key=_ts) : bisect_right(t.outcomes, now, key=_ts)
        ]
        resets = [r for r in activity.resets(t.key, now) if r > past]
        _repeats(c, outs, resets)
        _rereads(c, outs, resets)
        _idle(c, sorted([*resets, *(o.ts for o in outs)]))
        if th.unattended and t.key.agent_id is None:
            _unattended(c, t.humans[bisect_right(t.humans, past) : bisect_right(t.humans, now)])
        out += c.out
    kept = [a for a in out if a.ended_at is None or a.ended_at >= since]
    return sorted(kept, key=lambda a: (a.started_at, a.alert_id))


def _horizon(t: ThreadActivity, now: float) -> float:
    """Events at or before this time are past the thread's retention as of `now`."""
    if t.last_ts is None or math.isinf(t.retention_s):
        return -math.inf
    return min(now, t.last_ts) - t.retention_s


def _ts(o: Outcome) -> float:
    return o.ts


def steady_until(alerts: Iterable[Alert], th: Thresholds = DEFAULTS) -> float:
    """Until when evaluating again, with no new event, gives the same alerts: an open one
    ends `quiet_s` after its last event, and a warning turns critical once it has lasted
    `critical_after_s`. Infinity when nothing is open."""
    until = float("inf")
    for a in alerts:
        if not a.active:
            continue
        last = a.evidence.get("last_at")
        last = last if isinstance(last, int | float) else a.detected_at
        until = min(until, last + th.quiet_s)
        if a.severity is Severity.WARNING:
            until = min(until, a.started_at + th.critical_after_s)
    return until


def signal(activity: SessionActivity, alerts: Iterable[Alert], now: float) -> Signal:
    """A session's productivity signal as of `now` (CLI_CONTRACT section 3 SIGNAL)."""
    idle, total = activity.idle_burn(now)
    lines = activity.lines_added + activity.lines_removed
    per_line = activity.tokens / lines if activity.paths and lines else None
    share = min(1.0, max(0.0, idle / total)) if total > 0 else 0.0
    return Signal(
        len(activity.paths),
        activity.lines_added,
        activity.lines_removed,
        per_line,
        share,
        tuple(alerts),
    )
