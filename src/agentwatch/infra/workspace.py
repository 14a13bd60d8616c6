"""Everything a command needs, resolved once: roots, settings, prices, and a loaded tally."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from agentwatch.core.detectors import steady_until
from agentwatch.core.records import Agent, ThreadKey
from agentwatch.core.signals import history_signals
from agentwatch.core.tally import Tally
from agentwatch.core.thresholds import Thresholds
from agentwatch.infra import applog, config, gcpause, index, memo
from agentwatch.infra.export.json_report import iso_required
from agentwatch.infra.files import TrackedFile
from agentwatch.infra.paths import AppDirs, app_dirs
from agentwatch.infra.prices import PriceBook, data_version
from agentwatch.infra.scan import (
    EarlySignals,
    Preview,
    Progress,
    Root,
    ScanStats,
    refresh,
    retry_torn,
    scan,
    scan_files,
)
from agentwatch.sources import claude_code, codex, gemini
from agentwatch.sources.base import Source


class InvalidUsageError(Exception):
    """A mistake in what the user asked for (exit code 2)."""


@dataclass(frozen=True, slots=True)
class Options:
    """The common options of every command (CLI_CONTRACT section 1)."""

    claude_dirs: tuple[str, ...] = ()
    codex_dirs: tuple[str, ...] = ()
    gemini_dirs: tuple[str, ...] = ()
    no_cache: bool = False
    cache_dir: str | None = None
    config_dir: str | None = None


@dataclass(slots=True)
class Workspace:
    """Resolved roots and settings."""

    dirs: AppDirs
    settings: config.Settings
    roots: list[Root]
    searched: list[Path]
    prices: PriceBook
    ignored: list[str] = field(default_factory=list)

    no_cache: bool = False
    notes: list[str] = field(default_factory=list)
    thresholds: Thresholds = field(default_factory=Thresholds)
    _index: index.Index | None = None
    _changed: bool = True
    _files: dict[str, TrackedFile] = field(default_factory=dict)
    signals_until: float = float("inf")
    """Until when the last `signals` answer holds without new log lines (an open alert ends
    by quiet time)."""
    _early: EarlySignals | None = None

    def own_paths(self) -> list[Path]:
        """Folders whose changes are never a session's progress: the agents' log roots and
        agentwatch's own cache and state (they may sit inside a project's tree)."""
        return [*(r.path for r in self.roots), self.dirs.cache, self.dirs.state]

    def fingerprint(self) -> dict[str, Any]:
        """What the index depends on: a change means a rebuild."""
        return {
            "schema": index.SCHEMA,
            "parsers": {str(r.source.agent): r.source.parser_version for r in self.roots},
            "prices": data_version(),
            "overrides": sorted([m, repr(o)] for m, o in self.settings.prices.items()),
        }

    def load(
        self, progress: Progress | None = None, signals_at: float | None = None
    ) -> tuple[Tally, ScanStats]:
        """The tally of every root: from the index plus appended bytes, or a full scan.

        With `signals_at`, a full scan also models loop signals as of that time while it
        reads, for a `signals` call at the same time to reuse."""
        early = None if signals_at is None else EarlySignals(signals_at, self.thresholds)
        self._early = early
        if self.no_cache:
            tally = Tally(self.prices)
            return tally, scan(self.roots, tally, progress, early=early, prices=self.prices)
        tally, files, stats = self.load_tracked(progress, early=early)
        if retry_torn(files, tally, stats) and early is not None:
            early.found.clear()  # a file read again after the modelling
        for f in files.values():
            f.finish(stats)
        return tally, stats

    def load_tracked(
        self,
        progress: Progress | None = None,
        preview: Preview | None = None,
        early: EarlySignals | None = None,
    ) -> tuple[Tally, dict[str, TrackedFile], ScanStats]:
        """Like `load`, keeping every file's read position (for the live engine). A cold
        scan calls `preview` with the recent sessions before reading older history."""
        with gcpause.paused():
            return self._load_tracked(progress, preview, early)

    def _load_tracked(
        self, progress: Progress | None, preview: Preview | None, early: EarlySignals | None
    ) -> tuple[Tally, dict[str, TrackedFile], ScanStats]:
        idx = index.Index(self.dirs.cache, self.roots)
        fp = self.fingerprint()
        loaded = None
        if not self.no_cache:
            try:
                loaded = idx.load(fp, self.roots, self.prices)
            except index.IndexBusyError as exc:
                self.notes.append(f"the index is busy ({exc}); reading every file this time")
                self.no_cache = True
            except index.IndexUnusableError as exc:
                self.notes.append(f"the index was unreadable ({exc}); rebuilt it")
                idx.remove()
        if loaded is not None:
            tally, files, stats = loaded.tally, loaded.files, loaded.stats
            self.prices.preload(loaded.rates)
            try:
                changed = refresh(self.roots, tally, files, stats, progress)
            except index.IndexUnusableError as exc:  # its calls, read on first need, were bad
                self.notes.append(f"the index was unreadable ({exc}); rebuilt it")
                loaded = None
        if loaded is None:
            tally, stats = Tally(self.prices), ScanStats()
            files = scan_files(
                self.roots, tally, stats, progress, preview=preview, early=early, prices=self.prices
            )
            changed = True
        if changed and not self.no_cache:
            try:
                idx.save(fp, tally, files, stats, self.prices.export())
            except index.IndexUnusableError as exc:
                kept = "it keeps what it had" if idx.path.exists() else "the next run rebuilds it"
                self.notes.append(f"could not save the index ({exc}); {kept}")
        self._index, self._changed, self._files = idx, changed, files
        return tally, files, stats

    def memo_probes(self) -> list[memo.Probe] | None:
        """Probes of what the last `load` read (every file, the config, the index), for a
        report memo; None when a file changed after it was read, or nothing was indexed."""
        idx = self._index
        if idx is None or self.no_cache:
            return None
        idx.release()  # closing a reader later could checkpoint, and so change the index file
        out: list[memo.Probe] = []
        for f in self._files.values():
            try:
                st = os.stat(f.path)
            except OSError:
                return None
            if not f.unchanged(st):
                return None
            out.append(memo.of_stat(f.path, st))
        return out + memo.probes([str(idx.path), str(self.dirs.config_file), "/etc/localtime"])

    def signals(
        self, tally: Tally, stats: ScanStats, keys: Sequence[ThreadKey], now: float
    ) -> dict[ThreadKey, tuple[dict[str, Any], list[dict[str, Any]]]]:
        """Each session's SIGNAL (contract form) and its alerts, over its whole history.

        Running the detectors over every log is the slow part of a report, so the result is
        kept in the index and reused while no log changed and no alert is still open.
        """
        idx = self._index
        th = self.thresholds
        if idx is not None and not self._changed and not self.no_cache and idx.signals_raw:
            try:
                cached = msgspec.msgpack.decode(idx.signals_raw)
                same = idx.generation is not None and cached.get("gen") == idx.generation
                if same and cached["quiet_until"] > now:
                    self.signals_until = cached["quiet_until"]
                    return {
                        ThreadKey(Agent(a), sid): (sig, alerts)
                        for a, sid, sig, alerts in cached["sessions"]
                    }
            except (msgspec.DecodeError, KeyError, TypeError, ValueError):
                pass  # recompute
        early = self._early.found if self._early is not None and self._early.now == now else {}
        rest = [k for k in tally.sessions if k not in early]
        with gcpause.paused():
            found = history_signals(tally, stats.activity_by_session(set(rest)), rest, now, th)
        every = {k: v for k in tally.sessions if (v := early.get(k) or found.get(k)) is not None}
        out = {
            k: (sig.to_contract(iso_required), [a.to_contract(iso_required) for a in alerts])
            for k, (sig, alerts) in every.items()
        }
        # An open alert can end (or turn critical) with time alone: the cache holds until then.
        quiet_until = steady_until((a for _, alerts in every.values() for a in alerts), th)
        self.signals_until = quiet_until
        if idx is not None and not self.no_cache:
            blob = msgspec.msgpack.encode(
                {
                    "gen": idx.generation,
                    "quiet_until": quiet_until,
                    "sessions": [[str(k.agent), k.session_id, s, a] for k, (s, a) in out.items()],
                }
            )
            try:
                idx.save_signals(blob)
            except index.IndexUnusableError as exc:
                self.notes.append(f"could not save loop signals to the index ({exc})")
        wanted = set(keys)
        return {k: v for k, v in out.items() if k in wanted}


SOURCES: Sequence[Source] = (claude_code.SOURCE, codex.SOURCE, gemini.SOURCE)


def _pick(
    source: Source, flags: Sequence[str], env: Mapping[str, str], home: Path, flag_name: str
) -> tuple[list[Path], list[Path]]:
    if flags:
        paths = [Path(f).expanduser().absolute() for f in flags]
        for p in paths:
            if not p.is_dir():
                raise InvalidUsageError(f"{flag_name} {p}: no such directory")
        return paths, paths
    candidates = [p.absolute() for p in source.default_roots(env, home)]
    seen: list[Path] = []
    for p in candidates:
        if p.is_dir() and all(not _same(p, q) for q in seen):
            seen.append(p)
    return seen, candidates


def _same(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def open_workspace(
    opts: Options, env: Mapping[str, str] | None = None, home: Path | None = None
) -> Workspace:
    """Resolve directories, settings and roots. Raises InvalidUsageError for a bad directory."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    dirs = app_dirs(config_dir=opts.config_dir, cache_dir=opts.cache_dir, env=env)
    applog.setup(dirs.log_file)
    settings = config.load(dirs.config_file)
    thresholds, problems = Thresholds.from_config(settings.thresholds)
    roots: list[Root] = []
    searched: list[Path] = []
    for source, flags, flag_name in (
        (claude_code.SOURCE, opts.claude_dirs, "--claude-dir"),
        (codex.SOURCE, opts.codex_dirs, "--codex-dir"),
        (gemini.SOURCE, opts.gemini_dirs, "--gemini-dir"),
    ):
        found, candidates = _pick(source, flags, env, home, flag_name)
        roots += [Root(source, p) for p in found]
        searched += [source.transcript_dir(p) for p in candidates]
    ws = Workspace(
        dirs=dirs,
        settings=settings,
        roots=roots,
        searched=searched,
        prices=PriceBook(settings.prices),
        thresholds=thresholds,
        no_cache=opts.no_cache,
    )
    ws.notes.extend(f"{dirs.config_file}: {p}" for p in problems)
    return ws
