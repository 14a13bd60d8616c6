"""agentwatch benchmark: speed, memory, live latency and idle cost on a gen_corpus tree.

Prints figures and a final PASS/MISS table; it is not a test. Typical use, from the repo root
with the virtualenv active:

    python benchmarks/run.py --quick                 # 100 MiB corpus, repeat 1, short phases
    python benchmarks/run.py                         # 1 GiB corpus, best of 3
    CCUSAGE=/tmp/node_modules/.bin/ccusage python benchmarks/run.py   # adds the ccusage ratios

The corpus is built once under the temp dir and reused while its manifest args match. The live
phase appends to a corpus, so it runs on a small corpus of its own inside a scratch dir. Every
agentwatch child gets an empty HOME and a fresh AGENTWATCH_CACHE_DIR. Every timed report run
(agentwatch's and ccusage's) starts right after the corpus was read once, so each finds it in
the page cache: this VM keeps little more than 1 GB cached, and otherwise whichever tool ran
first would pay for the disk.

"warm" is an unchanged corpus after a populating run: agentwatch answers it from its report memo.
"warm, index path" is the same with AGENTWATCH_NO_MEMO=1: the index plus a stat of every file,
which is what any change to the logs costs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from compare import FIELDS, compare
from latency import analyze, final_totals
from procs import Run, Watch, best_of, run_measured

REPO = Path(__file__).resolve().parents[1]
SEED, CODEX_SHARE, GARBAGE_RATE = 1, 0.1, 0.001
RSS_TARGET_MIB = 150
SCRUB = ("XDG_", "AGENTWATCH_", "CLAUDE_", "CODEX_", "GEMINI_")


@dataclass
class Table:
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)

    def add(self, figure: str, value: str, target: str = "", ok: bool | None = None) -> None:
        status = "-" if not target else ("n/a" if ok is None else ("PASS" if ok else "MISS"))
        self.rows.append((figure, value, target, status))

    def print(self) -> None:
        head = ("figure", "value", "target", "result")
        widths = [max(len(r[i]) for r in [head, *self.rows]) for i in range(4)]
        line = "  ".join("-" * w for w in widths)
        print(line)
        for r in [head, None, *self.rows]:
            if r is None:
                print(line)
                continue
            print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        print(line)


def say(msg: str) -> None:
    print(msg, flush=True)


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def child_env(home: Path, cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUB)}
    env.update(HOME=str(home), AGENTWATCH_CACHE_DIR=str(cache))
    return env


def preload(corpus: Path) -> None:
    """Read every file of the corpus once, so the timed run that follows finds it cached."""
    for f in corpus.rglob("*"):
        if f.is_file():
            with open(f, "rb") as fh:
                while fh.read(1 << 22):
                    pass


def fresh(base: Path, prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


# --- corpus -------------------------------------------------------------------------------------


def build(gen: Path, out: Path, size_mb: float, force: bool) -> None:
    argv = [sys.executable, str(gen), "build", str(out), "--size-mb", f"{size_mb:g}"]
    argv += ["--seed", str(SEED), "--codex-share", str(CODEX_SHARE)]
    argv += ["--garbage-rate", str(GARBAGE_RATE)] + (["--force"] if force else [])
    t0 = time.perf_counter()
    limit = 120 + size_mb  # a build now and then hangs with its pool's workers exited: retry it
    for attempt in (1, 2, 3):
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=limit)
            break
        except subprocess.TimeoutExpired:
            say(f"  gen_corpus build hung (attempt {attempt}, over {limit:g} s); trying again")
            if "--force" not in argv:  # (what the hung build left is to be replaced)
                argv.append("--force")
    else:
        sys.exit("gen_corpus build hung three times")
    if proc.returncode:
        sys.exit(f"gen_corpus build failed ({proc.returncode}):\n{proc.stderr.strip()}")
    (out / "live-log.jsonl").unlink(missing_ok=True)
    last = ((proc.stdout + proc.stderr).strip().splitlines() or [""])[-1]
    say(f"  built {out} in {time.perf_counter() - t0:.1f} s: {last}")


def ensure_corpus(gen: Path, corpus: Path, size_mb: float, skip_build: bool) -> None:
    if corpus.resolve().is_relative_to(REPO):
        sys.exit(f"refusing to put a corpus inside the repo: {corpus}")
    manifest = corpus / "manifest.json"
    if skip_build:
        if not manifest.is_file():
            sys.exit(f"--skip-build: no manifest.json in {corpus}")
        say(f"corpus: {corpus} (--skip-build, used as is)")
        return
    if manifest.is_file():
        got = json.loads(manifest.read_text("utf-8")).get("args", {})
        want = {"size_mb": size_mb, "seed": SEED, "codex_share": CODEX_SHARE}
        want["garbage_rate"] = GARBAGE_RATE
        same = all(got.get(k) == v for k, v in want.items())
        if same and not (corpus / "live-log.jsonl").exists():
            say(f"corpus: {corpus} (reused, manifest args match)")
            return
        say(f"corpus: {corpus} (manifest args differ or live-appended: rebuilding)")
    elif corpus.exists() and any(corpus.iterdir()):
        sys.exit(f"{corpus} exists, is not empty and has no manifest.json; not touching it")
    else:
        say(f"corpus: {corpus} (building {size_mb:g} MiB)")
    build(gen, corpus, size_mb, force=manifest.is_file())


def source_args(corpus: Path) -> list[str]:
    argv = ["--claude-dir", str(corpus / "claude")]
    if (corpus / "codex").is_dir():
        argv += ["--codex-dir", str(corpus / "codex")]
    return argv


# --- report: cold, warm, correctness ------------------------------------------------------------


def correctness(report_path: Path, manifest: dict[str, Any]) -> dict[str, list[str]]:
    """Differences against the manifest: all, then Claude-only and Codex-only subsets."""
    report = json.loads(report_path.read_text("utf-8"))
    out = {"all": compare(report, manifest)}
    zero = dict.fromkeys(FIELDS, 0)
    for agent, label in (("claude", "claude-code"), ("codex", "codex")):
        sessions = [s for s in report["sessions"] if s["agent"] == label]
        tot = {k: sum(int(s["total_tokens"].get(k, 0)) for s in sessions) for k in FIELDS}
        sub_report = {"sessions": sessions, "totals": {"tokens": tot}}
        sub_manifest = {
            "sessions": [s for s in manifest["sessions"] if s["agent"] == agent],
            "totals": {"all": manifest["totals"].get(agent) or zero},
        }
        out[agent] = compare(sub_report, sub_manifest)
    return out


def show_diffs(label: str, diffs: dict[str, list[str]], table: Table) -> None:
    say(
        f"  {label}: {len(diffs['all'])} differences "
        f"(claude-only {len(diffs['claude'])}, codex-only {len(diffs['codex'])})"
    )
    for agent in ("claude", "codex"):
        for d in diffs[agent][:3]:
            say(f"    [{agent}] {d}")
        if len(diffs[agent]) > 3:
            say(f"    [{agent}] ... {len(diffs[agent]) - 3} more")
    for agent in ("claude", "codex"):
        n = len(diffs[agent])
        table.add(f"report {label}: {agent} differences", str(n), "0", n == 0)


def timed_runs(label: str, n: int, once: Any) -> Run | None:
    best, runs = best_of(n, once)
    for i, r in enumerate(runs, 1):
        rss = mib(r.maxrss_kib)
        say(f"  {label} run {i}/{len(runs)}: {r.wall:.2f} s, peak RSS {rss}, rc {r.rc}")
    bad = [r for r in runs if r.rc != 0]
    if bad:
        say(f"  {label}: exit code {bad[0].rc}; stderr:\n{bad[0].stderr.strip()[-2000:]}")
        return None
    # the fastest run's wall time, with the largest peak RSS of all runs
    return Run(best.wall, max(r.maxrss_kib for r in runs), best.rc)


def phase_report(
    aw: str, corpus: Path, tmp: Path, repeat: int, table: Table
) -> tuple[Run | None, Run | None, Run]:
    manifest = json.loads((corpus / "manifest.json").read_text("utf-8"))
    argv = [aw, "report", "--json", *source_args(corpus)]
    home = fresh(tmp, "home-")

    say("\n[cold] report --json --no-cache")

    def cold_once(i: int) -> Run:
        env = child_env(home, fresh(tmp, "cache-cold-"))
        preload(corpus)
        return run_measured([*argv, "--no-cache"], env, tmp / f"cold-{i}.json")

    cold = timed_runs("cold", repeat, cold_once)
    if cold is not None:
        show_diffs("cold", correctness(tmp / "cold-0.json", manifest), table)

    say("\n[warm] report --json (index in a fresh cache dir)")
    env = child_env(home, fresh(tmp, "cache-warm-"))
    preload(corpus)
    first = run_measured(argv, env, tmp / "warm-populate.json")
    say(f"  populate: {first.wall:.2f} s, peak RSS {mib(first.maxrss_kib)}, rc {first.rc}")
    if first.rc != 0:
        say(f"  populate: stderr:\n{first.stderr.strip()[-2000:]}")

    def warm_once(i: int, label: str, extra: dict[str, str]) -> Run:
        preload(corpus)
        return run_measured(argv, {**env, **extra}, tmp / f"{label}-{i}.json")

    warm = timed_runs("warm", repeat, lambda i: warm_once(i, "warm", {}))
    if warm is not None:
        show_diffs("warm", correctness(tmp / "warm-0.json", manifest), table)
    say("\n[warm, index path] report --json with AGENTWATCH_NO_MEMO=1")
    index = timed_runs(
        "warm-index", repeat, lambda i: warm_once(i, "warm-index", {"AGENTWATCH_NO_MEMO": "1"})
    )
    if index is not None:
        show_diffs("warm-index", correctness(tmp / "warm-index-0.json", manifest), table)
        table.add("report warm, index path (s)", f"{index.wall:.2f}")
        table.add("peak RSS report warm, index path", mib(index.maxrss_kib))
    return cold, warm, first


# --- ccusage ------------------------------------------------------------------------------------


def phase_ccusage(corpus: Path, tmp: Path, repeat: int) -> Run | None:
    name = os.environ.get("CCUSAGE")
    if not name:
        say("\nccusage: not run (set CCUSAGE=...)")
        return None
    exe = name if os.sep in name else shutil.which(name)
    if not exe or not os.access(exe, os.X_OK):
        say(f"\nccusage: not run ({name!r} is not an executable)")
        return None
    say(f"\n[ccusage] {exe} session --json --offline")
    env = child_env(fresh(tmp, "home-"), fresh(tmp, "cache-"))
    env["CLAUDE_CONFIG_DIR"] = str(corpus / "claude")
    argv = [exe, "session", "--json", "--offline"]

    def once(i: int) -> Run:
        preload(corpus)
        return run_measured(argv, env, tmp / f"cc-{i}.json")

    best = timed_runs("ccusage", repeat, once)
    if best is not None:
        try:
            got = json.loads((tmp / "cc-0.json").read_text("utf-8"))["totals"]["totalTokens"]
            manifest = json.loads((corpus / "manifest.json").read_text("utf-8"))
            want = manifest["totals"]["claude"]["total"]
            say(
                f"  ccusage total tokens {got:,} vs manifest claude total {want:,} "
                f"({got - want:+,})"
            )
        except (ValueError, KeyError, TypeError) as exc:
            say(f"  (could not read ccusage totals: {exc!r})")
    return best


# --- watch: latency and idle --------------------------------------------------------------------


def settle(w: Watch, quiet: float = 2.0, limit: float = 15.0) -> None:
    """Wait until watch has been silent for `quiet` s (at most `limit` s)."""
    end = time.time() + limit
    while time.time() < end and w.alive():
        last = w.events[-1][0] if w.events else 0.0
        if time.time() - last >= quiet:
            return
        time.sleep(0.1)


def phase_latency(aw: str, gen: Path, tmp: Path, args: argparse.Namespace, table: Table) -> None:
    live = tmp / "live"
    say(f"\n[latency] live appends on a separate {args.live_corpus_mb:g} MiB corpus")
    build(gen, live, args.live_corpus_mb, force=False)
    argv = [aw, "watch", "--jsonl", "--claude-dir", str(live / "claude")]
    env = child_env(fresh(tmp, "home-"), fresh(tmp, "cache-"))
    with Watch(argv, env, tmp / "watch-live.err") as w:
        if not w.wait_ready(args.ready_timeout):
            say(f"  watch never sent `ready`; stderr:\n{w.stderr_tail()}")
            table.add("latency", "no ready event", "p50 <= 30 ms", False)
            return
        assert w.ready_at is not None
        say(f"  watch ready after {w.ready_at - w.started_at:.2f} s")
        gen_argv = [sys.executable, str(gen), "live", str(live), "--rate", "20"]
        gen_argv += ["--duration", f"{args.live_seconds:g}", "--seed", "7"]
        proc = subprocess.run(gen_argv, capture_output=True, text=True, check=False)
        out = (proc.stdout + proc.stderr).strip().splitlines() or ["(no output)"]
        say(f"  gen_corpus live (rc {proc.returncode}): {out[-1]}")
        settle(w)
        rc, peak, killed = w.stop()
    res = analyze(live / "live-log.jsonl", w.events, w.ready_at)
    say(
        f"  appended {res.appended_lines} lines, {res.assistant_lines} assistant lines with ids; "
        f"{res.changing_lines} change a tally, {res.matched} matched a usage event"
    )
    say(
        f"  {res.usage_events} usage events, {res.unattributed_events} unattributed; "
        f"{res.assistant_lines - res.changing_lines} lines change nothing (no event expected)"
    )
    for note in res.notes:
        say(f"  note: {note}")

    manifest = json.loads((live / "manifest.json").read_text("utf-8"))
    want = {s["session_id"]: s["total"] for s in manifest["sessions"]}
    got = final_totals(w.events)
    same = sum(1 for sid, tok in got.items() if sid in want and tok == want[sid])
    say(f"  last session_total equals the manifest total for {same}/{len(got)} live sessions")

    p50, p95 = res.percentile(50), res.percentile(95)
    top = max(res.latencies_ms, default=None)

    def ms(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.0f} ms"

    say(f"  latency p50 {ms(p50)}, p95 {ms(p95)}, max {ms(top)}")
    table.add("latency p50", ms(p50), "<= 30 ms", None if p50 is None else p50 <= 30)
    table.add("latency p95", ms(p95), "<= 100 ms", None if p95 is None else p95 <= 100)
    table.add("latency max", ms(top))
    table.add(
        "latency lines matched",
        f"{res.matched}/{res.changing_lines} changing ({res.assistant_lines} appended)",
    )
    table.add("latency unattributed usage events", str(res.unattributed_events))
    table.add("live session_total == manifest", f"{same}/{len(got)} sessions")
    table.add(
        "peak RSS watch (live)",
        mib(peak),
        f"<= {RSS_TARGET_MIB} MiB",
        peak / 1024 <= RSS_TARGET_MIB,
    )
    table.add("watch exit on SIGTERM (live)", "killed" if killed else str(rc), "0", rc == 0)
    if rc != 0:
        say(f"  watch exit code {rc}; stderr:\n{w.stderr_tail()}")


def phase_idle(aw: str, corpus: Path, tmp: Path, args: argparse.Namespace, table: Table) -> None:
    say(f"\n[idle] watch --jsonl on the unchanging corpus, {args.idle_seconds:g} s")
    argv = [aw, "watch", "--jsonl", *source_args(corpus)]
    env = child_env(fresh(tmp, "home-"), fresh(tmp, "cache-"))
    preload(corpus)
    with Watch(argv, env, tmp / "watch-idle.err") as w:
        if not w.wait_ready(args.ready_timeout):
            say(f"  watch never sent `ready`; stderr:\n{w.stderr_tail()}")
            table.add("idle CPU", "no ready event", "< 1%", False)
            return
        assert w.ready_at is not None
        startup = w.ready_at - w.started_at
        say(f"  watch ready after {startup:.2f} s ({len(w.events) - 1} snapshot events)")
        p = psutil.Process(w.pid)

        def cpu() -> float:
            c = p.cpu_times()
            return c.user + c.system + c.children_user + c.children_system

        n0, c0, t0 = len(w.events), cpu(), time.monotonic()
        time.sleep(args.idle_seconds / 2)
        c1, t1 = cpu(), time.monotonic()
        time.sleep(args.idle_seconds / 2)
        c2, t2 = cpu(), time.monotonic()
        rss_now = p.memory_info().rss
        during = len(w.events) - n0
        rc, peak, killed = w.stop()
    pct = 100.0 * (c2 - c0) / (t2 - t0)
    pct2 = 100.0 * (c2 - c1) / (t2 - t1)
    say(
        f"  CPU {c2 - c0:.3f} s over {t2 - t0:.1f} s = {pct:.2f}% of one core "
        f"(second half {pct2:.2f}%); {during} events while idle; RSS now {rss_now >> 20} MiB, "
        f"peak {mib(peak)}"
    )
    table.add("watch startup to ready (s)", f"{startup:.2f}")
    table.add("idle CPU (% of one core)", f"{pct:.2f}%", "< 1%", pct < 1.0)
    table.add(
        "peak RSS watch (idle)",
        mib(peak),
        f"<= {RSS_TARGET_MIB} MiB",
        peak / 1024 <= RSS_TARGET_MIB,
    )
    table.add("watch exit on SIGTERM (idle)", "killed" if killed else str(rc), "0", rc == 0)
    if rc != 0:
        say(f"  watch exit code {rc}; stderr:\n{w.stderr_tail()}")
        return
    phase_warm_watch(argv, env, tmp, args, table)


def phase_warm_watch(
    argv: list[str], env: dict[str, str], tmp: Path, args: argparse.Namespace, table: Table
) -> None:
    """The daily start: `watch` again, on the index the first one left."""
    say("\n[warm watch] watch --jsonl again, same cache dir")
    with Watch(argv, env, tmp / "watch-warm.err") as w:
        if not w.wait_ready(args.ready_timeout):
            say(f"  watch never sent `ready`; stderr:\n{w.stderr_tail()}")
            return
        assert w.ready_at is not None
        startup = w.ready_at - w.started_at
        time.sleep(2.0)
        rss_now = psutil.Process(w.pid).memory_info().rss
        rc, peak, _ = w.stop()
    say(f"  ready after {startup:.2f} s; RSS {rss_now >> 20} MiB, peak {mib(peak)}, rc {rc}")
    table.add("watch warm start to ready (s)", f"{startup:.2f}")
    table.add("RSS watch warm start (now / peak)", f"{rss_now >> 20} / {mib(peak)}")


# --- main ---------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=float, help="corpus size in MiB (default 1024)")
    ap.add_argument("--corpus", type=Path, help="corpus dir (default: under the temp dir)")
    ap.add_argument("--repeat", type=int, help="timed runs, best kept (default 3)")
    ap.add_argument("--live-seconds", type=float, help="live append phase (default 30)")
    ap.add_argument("--idle-seconds", type=float, help="idle CPU window (default 30)")
    ap.add_argument("--live-corpus-mb", type=float, default=20, help="live phase corpus (20)")
    ap.add_argument("--skip-build", action="store_true", help="use --corpus as it is")
    ap.add_argument("--quick", action="store_true", help="100 MiB, repeat 1, live/idle 10 s")
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--ready-timeout", type=float, default=900, help="wait for `ready` (s)")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the scratch dir")
    args = ap.parse_args()
    quick = args.quick
    for name, full, short in (
        ("size_mb", 1024.0, 100.0),
        ("repeat", 3, 1),
        ("live_seconds", 30.0, 10.0),
        ("idle_seconds", 30.0, 10.0),
    ):
        if getattr(args, name) is None:
            setattr(args, name, short if quick else full)
    if args.corpus is None:
        base = Path(tempfile.gettempdir()) / "agentwatch-bench"
        args.corpus = base / f"corpus-{args.size_mb:g}mb-seed{SEED}"
    return args


def main() -> int:
    args = parse_args()
    gen = args.shared / "bench" / "gen_corpus.py"
    if not gen.is_file():
        sys.exit(f"gen_corpus.py not found at {gen} (use --shared)")
    venv_aw = Path(sys.executable).parent / "agentwatch"
    aw = str(venv_aw) if venv_aw.exists() else shutil.which("agentwatch")
    if not aw:
        sys.exit("agentwatch not found: activate the virtualenv")
    version = subprocess.run([aw, "--version"], capture_output=True, text=True, check=False)
    say(f"agentwatch: {aw} ({version.stdout.strip()}); {os.cpu_count()} CPUs; {sys.version[:6]}")
    ensure_corpus(gen, args.corpus, args.size_mb, args.skip_build)
    size = sum(f.stat().st_size for f in args.corpus.rglob("*") if f.is_file())
    say(f"  corpus size {size / 2**20:.0f} MiB")

    table = Table()
    tmp = Path(tempfile.mkdtemp(prefix="agentwatch-bench-run-"))
    try:
        cold, warm, populate = phase_report(aw, args.corpus, tmp, args.repeat, table)
        cc = phase_ccusage(args.corpus, tmp, args.repeat)
        phase_latency(aw, gen, tmp, args, table)
        phase_idle(aw, args.corpus, tmp, args, table)
    finally:
        if args.keep_tmp:
            say(f"\nscratch kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    rows = table.rows
    table.rows = []
    rss = f"<= {RSS_TARGET_MIB} MiB"
    for label, r in (("cold", cold), ("warm", warm)):
        table.add(
            f"report {label} wall (s, best of {args.repeat})", f"{r.wall:.2f}" if r else "failed"
        )
    table.add("report populate-cache run (s)", f"{populate.wall:.2f}")
    table.add("ccusage wall (s)", f"{cc.wall:.2f}" if cc else "not run")
    for label, r, limit in (("cold", cold, 0.75), ("warm", warm, 0.05)):
        ratio = r.wall / cc.wall if r and cc else None
        value = f"{ratio:.3f}x" if ratio is not None else "n/a"
        table.add(
            f"{label} / ccusage", value, f"<= {limit}x", None if ratio is None else ratio <= limit
        )
    for label, r in (("cold", cold), ("warm", warm)):
        if r:
            table.add(
                f"peak RSS report {label}",
                mib(r.maxrss_kib),
                rss,
                r.maxrss_kib / 1024 <= RSS_TARGET_MIB,
            )
    table.add(
        "peak RSS report populate-cache",
        mib(populate.maxrss_kib),
        rss,
        populate.maxrss_kib / 1024 <= RSS_TARGET_MIB,
    )
    if cc:
        table.add("peak RSS ccusage", mib(cc.maxrss_kib))
    table.rows += rows

    say(f"\nsummary: corpus {args.corpus} ({size / 2**20:.0f} MiB), repeat {args.repeat}")
    table.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
