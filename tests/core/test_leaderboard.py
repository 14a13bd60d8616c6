"""The leaderboard's ranking, aggregation and titles on hand-built sessions."""

from __future__ import annotations

import pytest

from agentwatch.core.leaderboard import (
    MIN_LINES,
    MIN_TOKENS,
    NO_PROJECT,
    By,
    Row,
    Title,
    award,
    board,
    build_rows,
)
from agentwatch.core.leaderboard_input import AlertMark, SessionWork, ThreadWork
from agentwatch.core.records import Agent
from agentwatch.core.tokens import Tokens

SONNET = "claude-sonnet-4-5"
HAIKU = "claude-haiku-4-5"
OPUS = "claude-opus-4-5"
H = 3600.0


def tok(total: int, cache_read: int = 0) -> Tokens:
    """`total` tokens: `cache_read` of them read from cache, the rest split input/output."""
    rest = total - cache_read
    return Tokens(input=rest // 2, output=rest - rest // 2, cache_read=cache_read)


def thread(
    by_model: dict[str, Tokens],
    *,
    idle: dict[str, int] | None = None,
    files: int = 0,
    added: int = 0,
    removed: int = 0,
    alerts: tuple[AlertMark, ...] = (),
) -> ThreadWork:
    return ThreadWork(by_model, {} if idle is None else idle, files, added, removed, alerts)


def session(
    sid: str,
    *threads: ThreadWork,
    project: str | None = "/home/dev/shop",
    hours: float = 1.0,
    files: int | None = None,
) -> SessionWork:
    return SessionWork(
        Agent.CLAUDE_CODE,
        sid,
        project,
        1000.0,
        1000.0 + hours * H,
        threads,
        sum(t.files_changed for t in threads) if files is None else files,
    )


def loop_alert(
    severity: str = "critical", ended: float | None = 2000.0, kind: str = "error_loop"
) -> AlertMark:
    return AlertMark(None, kind, severity, 1500.0, ended)


def titles(b: list[Title]) -> dict[str, Title]:
    return {t.rule.name: t for t in b}


def winner(t: Title) -> str | None:
    return None if t.winner is None else t.winner.key


# A looping session: the most tokens, the longest, every model, near-perfect cache reuse,
# almost everything burned with no change, and a critical error loop.
LOOPER = session(
    "looper",
    thread(
        {SONNET: tok(9_000_000, cache_read=8_900_000), OPUS: tok(500_000, 490_000)},
        idle={SONNET: 8_800_000, OPUS: 500_000},
        files=1,
        added=30,
        removed=0,
        alerts=(loop_alert(),),
    ),
    thread({HAIKU: tok(500_000, 450_000)}, idle={HAIKU: 500_000}),
    hours=9.0,
)
WORKER = session(
    "worker",
    thread(
        {SONNET: tok(1_200_000, cache_read=1_000_000)},
        idle={SONNET: 60_000},
        files=12,
        added=900,
        removed=300,
    ),
    project="/home/dev/blog",
    hours=2.0,
)
STEADY = session(
    "steady",
    thread({SONNET: tok(800_000, 600_000)}, idle={SONNET: 200_000}, files=4, added=150, removed=50),
    hours=1.5,
)
TINY = session(  # a ratio champion on paper: 2k tokens, all from cache, 60 lines
    "tiny",
    thread({SONNET: tok(2_000, 2_000)}, idle={SONNET: 0}, files=1, added=60, removed=0),
    hours=0.1,
)


def test_rows_rank_by_total_tokens_with_equal_totals_sharing_a_rank():
    a = session("a", thread({SONNET: tok(500)}))
    b = session("b", thread({SONNET: tok(900)}))
    c = session("c", thread({SONNET: tok(500)}))
    d = session("d", thread({SONNET: tok(100)}))
    rows = build_rows([a, b, c, d])
    assert [(r.key, r.rank) for r in rows] == [("b", 1), ("a", 2), ("c", 2), ("d", 4)]


def test_a_looping_session_wins_the_familiar_titles_and_no_honest_one():
    b = board([TINY, STEADY, LOOPER, WORKER])
    got = titles(list(b.titles))
    assert b.rows[0].key == "looper"
    assert b.rows[0].disqualified
    for name in ("Token Legend", "Session Immortal", "Model Connoisseur", "Cache Wizard"):
        assert winner(got[name]) == "looper", name
    honest = [t for t in b.titles if t.rule.honest]
    assert len(honest) == 3
    assert all(t.winner is not None and t.winner.key != "looper" for t in honest)
    assert winner(got["Most lines per token"]) == "worker"  # 1.2M / 1,200 lines = 1,000
    assert winner(got["Least idle burn"]) == "worker"  # 5% against steady's 25%
    assert winner(got["Most lines changed"]) == "worker"


def test_the_honest_columns_show_the_loop_for_what_it_is():
    rows = {r.key: r for r in build_rows([LOOPER, WORKER])}
    loop, work = rows["looper"], rows["worker"]
    assert loop.idle_burn_share == pytest.approx(9_800_000 / 10_000_000)
    assert loop.tokens_per_changed_line == pytest.approx(10_000_000 / 30)
    assert work.tokens_per_changed_line == pytest.approx(1_000.0)
    assert (loop.alerts, loop.open_alerts, loop.critical_alerts) == (1, 0, 1)
    assert loop.models == (HAIKU, OPUS, SONNET)
    assert loop.longest_session_s == 9 * H


def test_without_the_loop_alert_the_same_figures_still_lose_the_honest_titles():
    unflagged = session(
        "looper", *(ThreadWork(t.by_model, t.idle_by_model) for t in LOOPER.threads)
    )
    got = titles(list(board([unflagged, WORKER, STEADY]).titles))
    assert {winner(t) for t in got.values() if t.rule.honest} == {"worker"}


def test_floors_keep_a_tiny_session_from_the_ratio_titles():
    got = titles(list(board([TINY, STEADY]).titles))
    assert winner(got["Cache Wizard"]) == "steady"  # tiny's 100% is below the token floor
    assert winner(got["Most lines per token"]) == "steady"
    assert winner(got["Least idle burn"]) == "steady"
    alone = titles(list(board([TINY]).titles))
    assert alone["Cache Wizard"].winner is None
    assert (
        alone["Cache Wizard"].note
        == f"no eligible row (most have fewer than {MIN_TOKENS:,} tokens)"
    )
    # a count title has no token floor, only the line floor
    assert winner(alone["Most lines changed"]) == "tiny"


def test_honest_titles_need_enough_changed_lines():
    few = session(
        "few", thread({SONNET: tok(400_000)}, idle={SONNET: 0}, added=MIN_LINES - 1, removed=0)
    )
    got = titles(list(board([few]).titles))
    assert got["Least idle burn"].winner is None
    assert (
        got["Least idle burn"].note
        == f"no eligible row (most have fewer than {MIN_LINES} changed lines)"
    )
    assert winner(got["Token Legend"]) == "few"


@pytest.mark.parametrize(
    ("alert", "disqualifies"),
    [
        (loop_alert("warning", ended=None), True),  # open
        (loop_alert("critical", ended=2000.0), True),  # ended, but critical
        (loop_alert("warning", ended=2000.0), False),  # a short loop that ended
        (loop_alert("info", ended=None, kind="unattended"), False),  # nobody watching: no loop
        (loop_alert("critical", ended=None, kind="unattended"), False),
        (loop_alert("warning", ended=None, kind="reread_loop"), True),
        (loop_alert("warning", ended=None, kind="idle_burn"), True),
    ],
)
def test_which_alerts_keep_a_session_from_honest_titles(alert: AlertMark, disqualifies: bool):
    s = session(
        "s",
        thread({SONNET: tok(500_000)}, idle={SONNET: 0}, added=300, alerts=(alert,)),
    )
    row = build_rows([s])[0]
    assert row.disqualified is disqualifies
    assert (winner(titles(award([row], By.SESSION))["Least idle burn"]) == "s") is not disqualifies


def test_alert_periods_overlap_inclusive_of_open_episodes():
    a = AlertMark(None, "error_loop", "warning", 100.0, 200.0)
    assert a.within(None, None)
    assert a.within(150.0, 160.0)
    assert a.within(200.0, None)
    assert not a.within(200.5, None)
    assert not a.within(None, 100.0)
    assert AlertMark(None, "error_loop", "warning", 100.0, None).within(10_000.0, None)


def test_ties_on_a_title_figure_are_counted_and_broken_by_the_stated_order():
    # Least idle burn: both 0%; the one that changed more lines wins.
    a = session("a", thread({SONNET: tok(300_000)}, idle={SONNET: 0}, added=100))
    b = session("b", thread({SONNET: tok(200_000)}, idle={SONNET: 0}, added=400))
    got = titles(list(board([a, b]).titles))
    assert winner(got["Least idle burn"]) == "b"
    assert got["Least idle burn"].ties == 1
    assert got["Least idle burn"].value == 0.0
    # Model Connoisseur: one model each; the higher-ranked row (more tokens) wins.
    assert winner(got["Model Connoisseur"]) == "a"
    assert got["Model Connoisseur"].ties == 1
    # Most lines changed: equal lines, fewer tokens wins.
    c = session("c", thread({SONNET: tok(900_000)}, idle={SONNET: 0}, added=400))
    got = titles(list(board([b, c]).titles))
    assert winner(got["Most lines changed"]) == "b"
    assert got["Most lines changed"].ties == 1


def test_cache_hit_ratio_is_reads_over_every_prompt_token():
    t = Tokens(input=100, output=999, cache_write=300, cache_read=600)
    row = build_rows([session("s", thread({SONNET: t}))])[0]
    assert row.cache_hit_ratio == pytest.approx(600 / (100 + 600 + 300))
    no_prompt = build_rows([session("o", thread({SONNET: Tokens(output=50)}))])[0]
    assert no_prompt.cache_hit_ratio is None


def test_by_project_sums_sessions_counts_their_files_and_keeps_the_worst_alert():
    other = session("other", thread({HAIKU: tok(100_000)}), project=None)
    rows = {r.key: r for r in build_rows([LOOPER, STEADY, WORKER, other], By.PROJECT)}
    shop = rows["/home/dev/shop"]
    assert shop.sessions == 2
    assert (
        shop.tokens
        == LOOPER.threads[0].by_model[SONNET]
        + LOOPER.threads[0].by_model[OPUS]
        + LOOPER.threads[1].by_model[HAIKU]
        + STEADY.threads[0].by_model[SONNET]
    )
    assert shop.files_changed == 1 + 4
    assert (shop.lines_added, shop.lines_removed) == (180, 50)
    assert shop.longest_session_s == 9 * H
    assert shop.disqualified  # the looping session is in it
    assert shop.idle_tokens == 9_800_000 + 200_000
    assert rows[NO_PROJECT].sessions == 1
    assert not rows["/home/dev/blog"].disqualified


def test_a_session_row_counts_files_changed_by_two_threads_once():
    s = session(
        "s",
        thread({SONNET: tok(1000)}, files=3, added=10),
        thread({HAIKU: tok(1000)}, files=2, added=5),
        files=4,  # one file changed by both threads
    )
    assert build_rows([s])[0].files_changed == 4


def test_by_model_attributes_tokens_and_idle_exactly_and_splits_mixed_threads_by_share():
    mixed = session(
        "mixed",
        # main thread: 3/4 of its tokens on sonnet, 1/4 on opus; 100 lines added
        thread(
            {SONNET: tok(300_000), OPUS: tok(100_000)},
            idle={SONNET: 30_000, OPUS: 100_000},
            files=2,
            added=100,
            removed=40,
        ),
        # a sub-agent on haiku alone: its lines are haiku's, exactly
        thread({HAIKU: tok(50_000)}, idle={HAIKU: 0}, files=1, added=8, removed=2),
    )
    rows = {r.key: r for r in build_rows([mixed], By.MODEL)}
    assert set(rows) == {SONNET, OPUS, HAIKU}
    son, opus, haiku = rows[SONNET], rows[OPUS], rows[HAIKU]
    assert son.tokens == tok(300_000)
    assert (son.lines_added, son.lines_removed) == (75, 30)
    assert (opus.lines_added, opus.lines_removed) == (25, 10)
    assert son.produced_estimated
    assert opus.produced_estimated
    assert (haiku.lines_added, haiku.lines_removed, haiku.files_changed) == (8, 2, 1)
    assert not haiku.produced_estimated
    assert son.files_changed == opus.files_changed == 2  # a mixed thread's files count for each
    assert son.idle_burn_share == pytest.approx(0.1)
    assert opus.idle_burn_share == pytest.approx(1.0)
    assert haiku.idle_burn_share == 0.0
    got = titles(award(list(rows.values()), By.MODEL))
    assert got["Model Connoisseur"].winner is None
    assert got["Model Connoisseur"].note == "not meaningful by model"


def test_a_model_filter_keeps_those_tokens_and_their_share_of_the_lines():
    mixed = session(
        "mixed",
        thread({SONNET: tok(300_000), OPUS: tok(100_000)}, files=2, added=100, removed=40),
        thread({HAIKU: tok(50_000)}, files=1, added=8, removed=2),
    )
    row = build_rows([mixed], By.SESSION, model="SONNET")[0]
    assert row.tokens == tok(300_000)
    assert row.models == (SONNET,)
    assert (row.lines_added, row.lines_removed) == (75, 30)
    assert row.produced_estimated
    assert build_rows([mixed], By.SESSION, model="gpt") == []


def test_unknown_idle_burn_is_said_not_guessed():
    s = session("s", ThreadWork({SONNET: tok(500_000)}, None, 3, 200, 10), hours=2.0)
    b = board([s])
    assert b.rows[0].idle_tokens is None
    assert b.rows[0].idle_burn_share is None
    got = titles(list(b.titles))
    assert got["Least idle burn"].winner is None
    assert got["Least idle burn"].note == "not known in this view"
    assert winner(got["Most lines per token"]) == "s"


def test_an_empty_board_awards_nothing():
    b = board([])
    assert b.rows == ()
    assert all(t.winner is None and t.note == "no rows" for t in b.titles)


def test_a_session_with_no_tokens_in_the_period_is_not_a_row():
    quiet = session("quiet", ThreadWork({}, {}, 2, 50, 0))
    rows = build_rows([quiet, WORKER])
    assert [r.key for r in rows] == ["worker"]
    assert isinstance(rows[0], Row)
