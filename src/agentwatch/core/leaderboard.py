"""The honest leaderboard: rows ranked by tokens, what the tokens produced, and titles a loop
cannot win (issue 8 section 3; the rules are in the README's Leaderboard section)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from agentwatch.core.leaderboard_input import AlertMark, SessionWork, ThreadWork
from agentwatch.core.records import Agent
from agentwatch.core.tokens import ZERO, Tokens

MIN_TOKENS = 100_000
"""Ratio titles (cache reuse, lines per token, idle burn) need this many tokens in the row."""
MIN_LINES = 20
"""Honest titles need this many changed lines (added plus removed) in the row."""
NO_PROJECT = "(no project)"
"""The project key of sessions whose working directory is unknown."""


class By(StrEnum):
    """What one row of the board stands for."""

    SESSION = "session"
    PROJECT = "project"
    MODEL = "model"


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the board: a session, a project or a model."""

    key: str
    """Session id, project path (or NO_PROJECT) or model id."""
    by: By
    """What the row stands for."""
    tokens: Tokens
    """Tokens spent."""
    sessions: int
    """Sessions in the row."""
    models: tuple[str, ...]
    """Models used, sorted."""
    longest_session_s: float | None
    """The longest span from first to last activity of one of its sessions."""
    files_changed: int
    """Files changed (per session for a project, per thread for a model)."""
    lines_added: int
    """Lines added (rounded when split by token share)."""
    lines_removed: int
    """Lines removed (rounded when split by token share)."""
    idle_tokens: int | None
    """Tokens spent in W-windows with no file change; None when unknown."""
    alerts: int
    """Loop alerts in the period."""
    open_alerts: int
    """Of which still open."""
    critical_alerts: int
    """Of which critical."""
    disqualified: bool
    """An open or critical loop alert: not eligible for honest titles."""
    produced_estimated: bool = False
    """Lines were split between models by token share (a thread ran on several)."""
    agent: Agent | None = None
    """The agent (session rows)."""
    project: str | None = None
    """The project (session and project rows)."""
    rank: int = 0
    """1 for the most tokens; equal tokens share a rank."""

    @property
    def lines_changed(self) -> int:
        """Lines added plus removed."""
        return self.lines_added + self.lines_removed

    @property
    def tokens_per_changed_line(self) -> float | None:
        """`total` tokens over changed lines; None while no line changed."""
        return self.tokens.total / self.lines_changed if self.lines_changed else None

    @property
    def idle_burn_share(self) -> float | None:
        """Share of tokens spent in windows with no file change; None when unknown."""
        if self.idle_tokens is None or not self.tokens.total:
            return None
        return min(1.0, self.idle_tokens / self.tokens.total)

    @property
    def cache_hit_ratio(self) -> float | None:
        """`cache_read / (input + cache_read + cache_write)`: prompt tokens served from cache."""
        t = self.tokens
        prompt = t.input + t.cache_read + t.cache_write
        return t.cache_read / prompt if prompt else None


@dataclass(slots=True)
class _Sum:
    """A row being built."""

    tokens: Tokens = ZERO
    sessions: set[str] = field(default_factory=set)
    models: set[str] = field(default_factory=set)
    longest: float | None = None
    files: int = 0
    added: float = 0.0
    removed: float = 0.0
    idle: int | None = 0
    alerts: list[AlertMark] = field(default_factory=list)
    split: bool = False
    agent: Agent | None = None
    project: str | None = None

    def row(self, key: str, by: By) -> Row:
        return Row(
            key=key,
            by=by,
            tokens=self.tokens,
            sessions=len(self.sessions),
            models=tuple(sorted(self.models)),
            longest_session_s=self.longest,
            files_changed=self.files,
            lines_added=round(self.added),
            lines_removed=round(self.removed),
            idle_tokens=self.idle,
            alerts=len(self.alerts),
            open_alerts=sum(a.open for a in self.alerts),
            critical_alerts=sum(a.severity == "critical" for a in self.alerts),
            disqualified=any(a.disqualifies for a in self.alerts),
            produced_estimated=self.split,
            agent=self.agent,
            project=self.project,
        )


def _span(s: SessionWork) -> float | None:
    if s.first_at is None or s.last_at is None:
        return None
    return round(max(0.0, s.last_at - s.first_at), 3)


def _add_thread(acc: _Sum, t: ThreadWork, picked: Callable[[str], bool], whole: bool) -> bool:
    """Add the part of a thread that ran on the picked models; False when there is none.

    `whole` (no model attribution asked for) keeps the thread's changes and alerts whole;
    otherwise they follow its token share on the picked models.
    """
    models = [m for m in t.by_model if picked(m)]
    spent = sum((t.by_model[m] for m in models), ZERO)
    everything = sum(v.total for v in t.by_model.values())
    share = 1.0 if whole else (spent.total / everything if everything else 0.0)
    if not models and share <= 0.0:
        return False
    acc.tokens = acc.tokens + spent
    acc.models.update(m for m in models if t.by_model[m])
    if acc.idle is not None:
        acc.idle = (
            None
            if t.idle_by_model is None
            else acc.idle + sum(t.idle_by_model.get(m, 0) for m in models)
        )
    if share > 0.0:
        acc.added += t.lines_added * share
        acc.removed += t.lines_removed * share
        if not whole:
            acc.files += t.files_changed
        acc.split |= share < 1.0 and bool(t.lines_added or t.lines_removed)
        acc.alerts.extend(t.alerts)
    return True


def _all(_model: str) -> bool:
    return True


def build_rows(
    sessions: Iterable[SessionWork], by: By = By.SESSION, model: str | None = None
) -> list[Row]:
    """The board's rows, ranked by `total` tokens (most first; ties by key).

    `model`, a case-insensitive substring, keeps only those models' tokens; a thread's changes
    then count in proportion to its tokens on them (and `produced_estimated` says so).
    """
    wanted = model.lower() if model else None

    def picked(m: str) -> bool:
        return wanted is None or wanted in m.lower()

    sums: dict[str, _Sum] = {}
    for s in sessions:
        span = _span(s)
        groups: list[tuple[str, Callable[[str], bool], bool]]
        if by is By.MODEL:
            names = sorted({m for t in s.threads for m in t.by_model if picked(m)})
            groups = [(m, m.__eq__, False) for m in names]
        else:
            key = s.session_id if by is By.SESSION else (s.project or NO_PROJECT)
            groups = [(key, picked if wanted else _all, wanted is None)]
        for key, pick, whole in groups:
            acc = sums.get(key)
            if acc is None:
                acc = sums[key] = _Sum()
                if by is By.SESSION:
                    acc.agent, acc.project = s.agent, s.project
                elif by is By.PROJECT:
                    acc.project = s.project
            added = [_add_thread(acc, t, pick, whole) for t in s.threads]  # every thread
            if not any(added):
                continue
            if whole:
                acc.files += s.files_changed  # distinct across the session's threads
            acc.sessions.add(s.session_id)
            if span is not None and (acc.longest is None or span > acc.longest):
                acc.longest = span
    rows = [acc.row(k, by) for k, acc in sums.items() if acc.tokens.total > 0]
    rows.sort(key=lambda r: (-r.tokens.total, r.key))
    ranked: list[Row] = []
    for i, r in enumerate(rows):
        tied = ranked and ranked[-1].tokens.total == r.tokens.total
        ranked.append(replace(r, rank=ranked[-1].rank if tied else i + 1))
    return ranked


# ---- titles ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TitleRule:
    """How a title is won."""

    name: str
    """`Token Legend`, `Least idle burn`, ..."""
    honest: bool
    """False for the familiar titles token boards give, True for the ones about output."""
    rule: str
    """The rule in a few words."""
    value: Callable[[Row], float | None]
    """The figure compared (None: the row does not compete)."""
    higher: bool
    """True when more is better."""
    floor: Callable[[Row], str | None]
    """Why a row is not eligible, or None."""
    unit: str
    """What `value` counts: `tokens`, `seconds`, `models`, `ratio`, `tokens_per_line`, `lines`."""
    views: frozenset[By] = frozenset(By)
    """The views in which the title means something."""


@dataclass(frozen=True, slots=True)
class Title:
    """A title and who won it."""

    rule: TitleRule
    """How it is won."""
    winner: Row | None
    """The winning row; None when no row is eligible."""
    value: float | None
    """The winner's figure."""
    ties: int
    """Other eligible rows with the same figure (the tie-break chose the winner)."""
    note: str | None
    """Why nobody won, when nobody did."""


def _ratio_floor(r: Row) -> str | None:
    if r.tokens.total < MIN_TOKENS:
        return f"fewer than {MIN_TOKENS:,} tokens"
    return None


def _honest_floor(r: Row, ratio: bool) -> str | None:
    if r.disqualified:
        return "an open or critical loop alert"
    if ratio and r.tokens.total < MIN_TOKENS:
        return f"fewer than {MIN_TOKENS:,} tokens"
    if r.lines_changed < MIN_LINES:
        return f"fewer than {MIN_LINES} changed lines"
    return None


def _no_floor(_r: Row) -> str | None:
    return None


def _longest(r: Row) -> float | None:
    return r.longest_session_s or None


def _models(r: Row) -> float | None:
    return float(len(r.models)) if r.models else None


RULES: tuple[TitleRule, ...] = (
    TitleRule(
        "Token Legend",
        False,
        "most tokens",
        lambda r: float(r.tokens.total),
        True,
        _no_floor,
        "tokens",
    ),
    TitleRule("Session Immortal", False, "longest session", _longest, True, _no_floor, "seconds"),
    TitleRule(
        "Model Connoisseur",
        False,
        "most models",
        _models,
        True,
        _no_floor,
        "models",
        frozenset({By.SESSION, By.PROJECT}),
    ),
    TitleRule(
        "Cache Wizard",
        False,
        "best cache reuse",
        lambda r: r.cache_hit_ratio,
        True,
        _ratio_floor,
        "ratio",
    ),
    TitleRule(
        "Most lines per token",
        True,
        "fewest tokens per changed line",
        lambda r: r.tokens_per_changed_line,
        False,
        lambda r: _honest_floor(r, ratio=True),
        "tokens_per_line",
    ),
    TitleRule(
        "Least idle burn",
        True,
        "lowest share of tokens burned with no file change",
        lambda r: r.idle_burn_share,
        False,
        lambda r: _honest_floor(r, ratio=True),
        "ratio",
    ),
    TitleRule(
        "Most lines changed",
        True,
        "most lines added plus removed",
        lambda r: float(r.lines_changed),
        True,
        lambda r: _honest_floor(r, ratio=False),
        "lines",
    ),
)
"""The four familiar titles, then the honest ones."""


def award(rows: Sequence[Row], by: By, rules: Sequence[TitleRule] = RULES) -> list[Title]:
    """Each title's winner among `rows` (all of them: a row need not be shown to win).

    Ties on the figure go, for familiar titles, to the higher-ranked row; for honest titles,
    to more changed lines, then fewer tokens; the key decides last.
    """
    out: list[Title] = []
    for rule in rules:
        if by not in rule.views:
            out.append(Title(rule, None, None, 0, f"not meaningful by {by}"))
            continue
        field_: list[tuple[float, Row]] = []
        reasons: list[str] = []
        for r in rows:
            v = rule.value(r)
            why = rule.floor(r)
            if why is not None:
                reasons.append(why)
            elif v is not None:
                field_.append((v, r))
        if not field_:
            out.append(Title(rule, None, None, 0, _no_winner(rows, reasons)))
            continue

        def order(item: tuple[float, Row], rule: TitleRule = rule) -> tuple[object, ...]:
            v, r = item
            first = -v if rule.higher else v
            if rule.honest:
                return (first, -r.lines_changed, r.tokens.total, r.key)
            return (first, r.rank, r.key)

        field_.sort(key=order)
        best, winner = field_[0]
        ties = sum(1 for v, _ in field_[1:] if v == best)
        out.append(Title(rule, winner, best, ties, None))
    return out


def _no_winner(rows: Sequence[Row], reasons: list[str]) -> str:
    if not rows:
        return "no rows"
    if len(reasons) < len(rows):  # some rows were eligible but lack the figure
        return "not known in this view"
    common = max(set(reasons), key=reasons.count)
    return f"no eligible row (most have {common})"


@dataclass(frozen=True, slots=True)
class Board:
    """A ranked board and its titles."""

    by: By
    """What a row stands for."""
    rows: tuple[Row, ...]
    """Every row, ranked."""
    titles: tuple[Title, ...]
    """Each title's winner among all rows."""
    since: float | None = None
    """Start of the period (None: the whole history)."""
    until: float | None = None
    """End of the period (None: now)."""


def board(
    sessions: Iterable[SessionWork],
    by: By = By.SESSION,
    model: str | None = None,
    since: float | None = None,
    until: float | None = None,
) -> Board:
    """Rows and titles in one go (`since`/`until` only label the period)."""
    rows = build_rows(sessions, by, model)
    return Board(by, tuple(rows), tuple(award(rows, by)), since, until)
