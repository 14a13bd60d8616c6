"""One-shot scan: read every file the sources claim under their roots into a tally."""

from __future__ import annotations

import functools
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import resource_tracker
from typing import Any

import msgspec

from agentwatch.core import tally_state
from agentwatch.core.alerts import Alert, Signal
from agentwatch.core.records import Agent, ThreadKey
from agentwatch.core.signals import history_signals
from agentwatch.core.tally import Tally
from agentwatch.core.thresholds import Thresholds
from agentwatch.infra import gcpause
from agentwatch.infra.applog import LOG
from agentwatch.infra.files import (
    ActivityEntry,
    Root,
    ScanStats,
    TrackedFile,
    discover,
    predecessor,
)
from agentwatch.infra.index import IndexUnusableError, call_pieces, load_call_pieces
from agentwatch.infra.prices import PriceBook, lookup
from agentwatch.sources.base import FileRole

__all__ = ["Progress", "Root", "ScanStats", "refresh", "scan", "scan_files"]

Progress = Callable[[int, int, int], None]
"""Called with (files done, files total, bytes done)."""


def prepare_workers() -> None:
    """Start multiprocessing's helper process now, while stdio is still the terminal's (a TUI
    replaces sys.stderr, which the helper needs to inherit)."""
    try:
        resource_tracker.ensure_running()
    except Exception:  # noqa: BLE001 (then scans simply stay in one process)
        LOG.warning("no multiprocessing helper; scans will use one process")


PARALLEL_MIN_BYTES = 48 * 1024 * 1024
"""Below this, a second process costs more than it saves."""


def _ingest(f: TrackedFile, tally: Tally, stats: ScanStats) -> bool:
    """Read what a file has new into the tally; False (recorded as a skipped file) on error."""
    try:
        tally.apply(f.read(stats))
    except IndexUnusableError:
        raise  # the index's calls, read on first need, were damaged: not this file's fault
    except IsADirectoryError:
        stats.skipped_files[f.path] = "is a directory"
    except OSError as exc:
        stats.skipped_files[f.path] = exc.strerror or type(exc).__name__
        LOG.warning("skipped %s: %s", f.path, exc)
    except Exception as exc:  # noqa: BLE001 (a parser bug must not lose every other file)
        stats.skipped_files[f.path] = f"could not be parsed ({type(exc).__name__})"
        LOG.exception("skipped %s: parser failed", f.path)
    else:
        return True
    return False


def _read_all(
    files: list[TrackedFile],
    tally: Tally,
    stats: ScanStats,
    progress: Progress | None,
    total: int,
) -> dict[str, TrackedFile]:
    tracked: dict[str, TrackedFile] = {}
    for i, f in enumerate(files):
        if f.path in tracked:
            continue
        if _ingest(f, tally, stats):
            stats.files += 1
            tracked[f.path] = f
        if progress is not None:
            progress(i + 1, total, stats.bytes)
    return tracked


@dataclass(slots=True)
class EarlySignals:
    """Asks a cold scan for loop signals as of `now`. Each process models the sessions it
    read while the other is still reading, instead of one process modelling every session
    at the end; a result is kept only where it is final (see `_keep_final`)."""

    now: float
    thresholds: Thresholds
    found: dict[ThreadKey, Found] = field(default_factory=dict)
    """Final signals and alerts by session (main thread); sessions missing here are left
    to the caller."""


Found = tuple[Signal, list[Alert]]
_JOB = msgspec.msgpack.Decoder(tuple[list[Any], float | None, Thresholds | None, bool])
_PAIRS = msgspec.msgpack.Decoder(list[tuple[str, float]])
_RATES = msgspec.msgpack.Decoder(list[Any])
_ENC = msgspec.msgpack.encode
_FOUND = msgspec.msgpack.Decoder(list[tuple[str, str, Signal, list[Alert]]])


def _part(job: bytes) -> bytes:
    """Worker process: read some files into a partial tally; return it as msgpack."""
    with gcpause.paused():
        return _read_part(job)


def _read_part(job: bytes) -> bytes:
    dumped, now, th, rates = _JOB.decode(job)
    files = [f for f in map(TrackedFile.load, dumped) if f is not None]
    tally, stats = Tally(), ScanStats()
    tally.begin_bulk()  # the parent prices and sums everything once, in `settle`
    tracked = _read_all(files, tally, stats, None, len(files))
    found: dict[ThreadKey, Found] = {}
    if now is not None and th is not None:
        found, _ = _model(tally, stats, now, th)
    return msgspec.msgpack.encode(
        [
            tally_state.dump_sessions(tally),
            call_pieces(tally.calls.values()),
            [f.dump() for f in tracked.values()],
            stats.dump(),
            stats.encode_activity(),
            [(str(k.agent), k.session_id, s, a) for k, (s, a) in found.items()],
            lookup(PriceBook().wanted((c.model, c.ts) for c in tally.calls.values()))
            if rates
            else [],
        ]
    )


def _rates(job: bytes) -> bytes:
    """Worker process, after its part: the rates the parent wants (`PriceBook.wanted`), so
    that the price data (some 40 MB once loaded) is loaded here and never in the parent."""
    return _ENC(lookup(_PAIRS.decode(job)))


def _model(
    tally: Tally, stats: ScanStats, now: float, th: Thresholds
) -> tuple[dict[ThreadKey, Found], set[ThreadKey]]:
    """Signals of the sessions this process read that share no call with another session
    (their credit cannot move), and every session it read anything of."""
    records = dict(stats.activity_by_session())
    touched = set(tally.sessions) | set(records)
    alone = [k for k in touched if not tally.shares_calls(k)]
    return history_signals(tally, records.items(), alone, now, th), touched


def _keep_final(
    early: EarlySignals,
    tally: Tally,
    parts: list[tuple[dict[ThreadKey, Found], set[ThreadKey]]],
) -> None:
    """After the merge: a process's result for a session is final when no other process
    read any of that session, and the session shares no call with another one anywhere."""
    seen: Counter[ThreadKey] = Counter()
    for _, touched in parts:
        seen.update(touched)
    for found, _ in parts:
        for key, result in found.items():
            if seen[key] == 1 and not tally.shares_calls(key):
                early.found[key] = result


HEAD_SHARE = 0.05
"""Extra share of the bytes the parent reads: the worker starts late (~0.3 s) and its results
cost the parent a decode and a merge, while both model loop signals (15% was best before
the worker modelled too; about 5% since, on a 1 GiB corpus)."""


def _split(
    files: list[TrackedFile], sizes: list[int], parts: int, recent: int = 0
) -> list[list[TrackedFile]]:
    """Greedy balance by size, the parent (part 0) taking a head start's worth more; every
    part keeps discovery order (sidecars last). The files whose paths name the same session
    go to the same part, so that one process reads the whole session (see `EarlySignals`),
    unless the session is too big a share to balance. The first `recent` files always go to
    the parent, which reads them first (the preview)."""
    bins: list[list[int]] = [[] for _ in range(parts)]
    load = [0] * parts
    load[0] = -int(sum(sizes) * HEAD_SHARE)
    for i in range(recent):
        bins[0].append(i)
        load[0] += sizes[i]
    by_session: dict[object, list[int]] = {}
    for i in range(recent, len(files)):
        session = files[i].spec.session_id
        by_session.setdefault((files[i].source.agent, session) if session else i, []).append(i)
    share = sum(sizes) / (2 * parts)
    groups = [g for whole in by_session.values() for g in _whole_or_apart(whole, sizes, share)]
    for group in sorted(groups, key=lambda g: -sum(sizes[i] for i in g)):
        j = load.index(min(load))
        bins[j].extend(group)
        load[j] += sum(sizes[i] for i in group)
    return [[files[i] for i in sorted(b)] for b in bins]


def _whole_or_apart(files: list[int], sizes: list[int], share: float) -> list[list[int]]:
    """One session's files as one group, or one group each when together they are more
    than `share` of the bytes."""
    if len(files) > 1 and sum(sizes[i] for i in files) > share:
        return [[i] for i in files]
    return [files]


RECENT_S = 24 * 3600.0
"""Files written this recently are read first on a cold scan, and previewed."""
Preview = Callable[[Tally], None]
"""Called once during a cold scan with the tally of the recent files (provisional)."""


def _recent_first(
    files: list[TrackedFile], sizes: list[int], mtimes: list[float], since: float
) -> int:
    """Reorder `files`/`sizes` in place: recent files first (sidecars last in each group);
    returns how many are recent."""
    order = sorted(
        range(len(files)),
        key=lambda i: (mtimes[i] < since, files[i].spec.role is FileRole.META),
    )
    files[:] = [files[i] for i in order]
    sizes[:] = [sizes[i] for i in order]
    return sum(1 for m in mtimes if m >= since)


def _read_previewed(
    files: list[TrackedFile],
    recent: int,
    tally: Tally,
    stats: ScanStats,
    progress: Progress | None,
    total: int,
    preview: Preview | None,
    elsewhere: bool = False,
) -> dict[str, TrackedFile]:
    """`_read_all`, pausing after the first `recent` files to show them (when older files are
    still to come, here or in a worker: `elsewhere`)."""
    if preview is None or recent <= 0 or not (recent < len(files) or elsewhere):
        return _read_all(files, tally, stats, progress, total)
    tracked = _read_all(files[:recent], tally, stats, progress, total)
    tally.settle()  # sums of what is in so far: cheap, and exact for those files
    preview(tally)
    tally.begin_bulk()
    done = len(tracked)

    def shifted(i: int, n: int, nbytes: int) -> None:
        if progress is not None:
            progress(done + i, n, nbytes)

    tracked.update(_read_all(files[recent:], tally, stats, shifted, total))
    return tracked


def scan_files(
    roots: list[Root],
    tally: Tally,
    stats: ScanStats,
    progress: Progress | None = None,
    workers: int | None = None,
    preview: Preview | None = None,
    now: float | None = None,
    early: EarlySignals | None = None,
    prices: PriceBook | None = None,
) -> dict[str, TrackedFile]:
    """Read every claimed file to its current end; returns the files, ready to be read again.

    Big scans use a second process (both cores): each side builds a partial tally, then
    the parts are merged and settled, which gives the same result as one process. Files
    written in the last day are read first, by this process; `preview` then sees their
    sessions (provisional: a call also found in older history may still move). With
    `prices` (the tally's price book), a worker looks up the rates, so that this process
    need not load the price data.
    """
    with gcpause.paused():
        return _scan_files(roots, tally, stats, progress, workers, preview, now, early, prices)


def _scan_files(
    roots: list[Root],
    tally: Tally,
    stats: ScanStats,
    progress: Progress | None,
    workers: int | None,
    preview: Preview | None,
    now: float | None,
    early: EarlySignals | None,
    prices: PriceBook | None,
) -> dict[str, TrackedFile]:
    files = [TrackedFile.new(r.source, p, spec) for r in roots for p, spec in discover(r)]
    # Sidecars last, so they can name agents whose transcripts were already read.
    files.sort(key=lambda f: f.spec.role is FileRole.META)
    sizes, mtimes = [], []
    for f in files:
        try:
            st = os.stat(f.path)
        except OSError:
            sizes.append(0)
            mtimes.append(0.0)
        else:
            sizes.append(st.st_size)
            mtimes.append(st.st_mtime)
    since = (time.time() if now is None else now) - RECENT_S
    recent = _recent_first(files, sizes, mtimes, since) if preview is not None else 0
    if workers is None and os.environ.get("AGENTWATCH_SCAN_WORKERS", "").isdigit():
        workers = int(os.environ["AGENTWATCH_SCAN_WORKERS"])  # a knob for benchmarks
    if workers is None:
        many = sum(sizes) >= PARALLEL_MIN_BYTES and (os.cpu_count() or 1) > 1
        workers = 2 if many else 1
    tally.begin_bulk()
    if workers <= 1 or len(files) < 2:
        tracked = _read_previewed(files, recent, tally, stats, progress, len(files), preview)
        tally.settle()
        return tracked
    mine, *others = _split(files, sizes, workers, recent)
    others = [part for part in others if part]
    if not others:  # (one session holds nearly everything)
        tracked = _read_previewed(mine, recent, tally, stats, progress, len(files), preview)
        tally.settle()
        return tracked
    ctx = multiprocessing.get_context("spawn")  # safe with the watcher's threads running
    results: list[bytes] = []
    left: list[TrackedFile] = []
    at, th = (early.now, early.thresholds) if early is not None else (None, None)
    modelled: list[tuple[dict[ThreadKey, Found], set[ThreadKey]]] = []
    try:
        pool = ProcessPoolExecutor(max_workers=len(others), mp_context=ctx)
        futures = [
            (part, pool.submit(_part, _ENC([[f.dump() for f in part], at, th, bool(prices)])))
            for part in others
        ]
    except Exception as exc:  # noqa: BLE001 (no worker to be had, e.g. under a TUI's stdio)
        LOG.warning("no scan worker (%r); reading in one process", exc)
        tracked = _read_all(files, tally, stats, progress, len(files))
        tally.settle()
        return tracked
    with pool:
        tracked = _read_previewed(
            mine, recent, tally, stats, progress, len(files), preview, elsewhere=True
        )
        if early is not None:  # (while the worker still reads)
            modelled.append(_model(tally, stats, early.now, early.thresholds))
        stats.encode_activity()  # compact: the worker's result is decoded beside it
        if prices is None:
            tally.price_ahead()
        else:
            _ask_rates(pool, prices, tally, futures)
        while futures:  # (a future holds its result: drop it, so `results` owns the bytes)
            part, fut = futures.pop(0)
            try:
                if part:
                    results.append(fut.result())
                elif prices is not None:
                    prices.preload(_RATES.decode(fut.result()))
            except Exception:  # noqa: BLE001 (a dead worker: its files are read here)
                LOG.exception("scan worker failed; doing its work in-process")
                left.extend(part)  # (and rates not had are looked up here, when needed)
            del fut
    if left:
        rest, rest_stats = Tally(), ScanStats()
        rest.begin_bulk()
        tracked.update(_read_all(left, rest, rest_stats, None, len(left)))
        modelled.append(({}, set(rest.sessions) | {r.thread.main for r in rest_stats.activity}))
        tally.absorb(rest)
        stats.merge(rest_stats)
    while results:  # each part's bytes and decoded form are dropped before the next
        modelled.append(_absorb_part(results, tally, tracked, stats, prices))
    tally.settle()
    if early is not None:
        _keep_final(early, tally, modelled)
    return tracked


def _ask_rates(
    pool: ProcessPoolExecutor,
    prices: PriceBook,
    tally: Tally,
    futures: list[tuple[list[TrackedFile], Future[bytes]]],
) -> None:
    """Queue, behind the worker's part, the lookup of the rates this process's calls want."""
    asked = prices.wanted((c.model, c.ts) for c in tally.calls.values())
    if asked:
        try:
            futures.append(([], pool.submit(_rates, _ENC(asked))))
        except Exception:  # noqa: BLE001 (a dead worker: the rates are looked up here)
            LOG.warning("scan worker gone; looking up prices in-process")


_PART = msgspec.msgpack.Decoder(
    tuple[
        Any,
        list[bytes],
        Any,
        Any,
        list[ActivityEntry],
        list[tuple[str, str, Signal, list[Alert]]],
        list[Any],
    ]
)
"""A worker's result; its calls stay encoded, in pieces, until the merge needs them."""


def _absorb_part(
    results: list[bytes],
    tally: Tally,
    tracked: dict[str, TrackedFile],
    stats: ScanStats,
    prices: PriceBook | None,
) -> tuple[dict[ThreadKey, Found], set[ThreadKey]]:
    """Merge the first of the workers' results into this process's tally, files and stats
    (it is taken off the list, so that its bytes are freed once decoded); returns the
    signals it modelled and the sessions it read anything of."""
    sessions, calls, dumped, part_stats, activity, modelled, rates = _PART.decode(results.pop(0))
    if prices is not None:
        prices.preload(rates)
    partial = Tally()
    tally_state.load_sessions(partial, sessions)
    partial.defer_calls(functools.partial(load_call_pieces, calls))
    del calls
    touched = set(partial.sessions) | {ThreadKey(Agent(a), s) for a, s, _ in activity}
    found = {ThreadKey(Agent(a), s): (sig, alerts) for a, s, sig, alerts in modelled}
    tally.absorb(partial)
    for v in dumped:
        loaded = TrackedFile.load(v)
        if loaded is not None:
            tracked[loaded.path] = loaded
    stats.merge(ScanStats.load(part_stats))
    stats.add_entries(activity)
    return found, touched


def refresh(
    roots: list[Root],
    tally: Tally,
    files: dict[str, TrackedFile],
    stats: ScanStats,
    progress: Progress | None = None,
) -> bool:
    """Bring indexed files up to date: read what was appended, pick up new files, forget
    deleted ones (their counts stay). Returns True when anything changed."""
    found = [(r, p, spec) for r in roots for p, spec in discover(r)]
    present = {p for _, p, _ in found}
    gone = {p: files.pop(p) for p in [p for p in files if p not in present]}
    changed = bool(gone)
    found.sort(key=lambda x: x[2].role is FileRole.META)
    for i, (root, path, spec) in enumerate(found):
        f = files.get(path)
        if f is not None:
            try:
                st = os.stat(path)
            except OSError:
                st = None
            if st is not None and f.unchanged(st):
                continue
        else:
            f = TrackedFile.new(root.source, path, spec)
            if spec.whole is False and gone:
                f.inherited = predecessor(gone, path)
        changed = True
        if _ingest(f, tally, stats):
            files[path] = f
        else:
            files.pop(path, None)
        if progress is not None:
            progress(i + 1, len(found), stats.bytes)
    return changed


RETRY_S = 0.1
"""How long a one-shot read waits before reading a torn whole-file log once more."""


def retry_torn(
    files: dict[str, TrackedFile],
    tally: Tally,
    stats: ScanStats,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """A whole-document log that did not parse (its writer caught mid-write, as a Gemini
    chat rewritten in place can be) is read once more after `RETRY_S`, if it changed.
    Returns True when it read one again."""
    torn = [f for f in files.values() if f.parser is not None and f.parser.stats.unreadable]
    if torn:
        sleep(RETRY_S)
        for f in torn:
            _ingest(f, tally, stats)
    return bool(torn)


def scan(
    roots: list[Root],
    tally: Tally,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
    early: EarlySignals | None = None,
    prices: PriceBook | None = None,
) -> ScanStats:
    """Read everything once; unterminated last lines count as skipped."""
    stats = ScanStats()
    files = scan_files(roots, tally, stats, progress, early=early, prices=prices)
    if retry_torn(files, tally, stats, sleep) and early is not None:
        early.found.clear()  # a file read again after the modelling: model it all again
    for f in files.values():
        f.finish(stats)
    return stats
