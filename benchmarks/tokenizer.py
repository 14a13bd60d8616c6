"""Tokenizer throughput: load time, tokens/s and MB/s on real text, and context estimates of a
generated transcript; says whether estimates keep up with a live session.

python benchmarks/tokenizer.py [--mb 4] [--log-mb 20]

The text is this repository's own source and docs (code and prose, as tool results and file
reads mostly are), repeated to `--mb` MB. The transcript holds Read results of distinct file
versions (no repeats, so the per-text memo cannot help: the worst case).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from agentwatch.core.records import Agent
from agentwatch.infra.context import ContextTracker, LogFile
from agentwatch.infra.tokenizer import CL100K, O200K, Tokenizer, shared

REPO = Path(__file__).resolve().parent.parent
# A busy session at its peak: a model streams ~100 output tokens/s, and tool results (builds,
# test logs, file reads) land at a few hundred KB/s at most. Generous on purpose.
LIVE_TOKENS_PER_S = 200
LIVE_LOG_BYTES_PER_S = 500_000


def corpus(mb: float) -> str:
    parts = [
        p.read_text(errors="replace")
        for pattern in ("src/**/*.py", "tests/**/*.py", "*.md", "docs/*.md")
        for p in sorted(REPO.glob(pattern))
    ]
    base = "\n".join(parts)
    want = int(mb * 1_000_000)
    return (base * (want // max(1, len(base)) + 1))[:want]


def transcript(path: Path, text: str, mb: float) -> int:
    """A Claude Code main file of Read calls and results, each a different slice of `text`."""
    want = int(mb * 1_000_000)
    cwd = "/home/dev/shop-api"
    n = 0
    with path.open("w") as fh:
        while fh.tell() < want:
            start = (n * 7919) % max(1, len(text) - 20_000)
            body = f"version {n}\n" + text[start : start + 20_000]
            call = {"type": "tool_use", "id": f"t{n}", "name": "Read", "input": {}}
            call["input"] = {"file_path": f"{cwd}/src/m{n % 40}.py"}
            msg = {"id": f"m{n}", "content": [call], "usage": {"output_tokens": 40}}
            fh.write(json.dumps({"type": "assistant", "uuid": f"a{n}", "message": msg}) + "\n")
            result = {"type": "tool_result", "tool_use_id": f"t{n}", "content": body}
            user = {"type": "user", "uuid": f"u{n}", "message": {"content": [result]}}
            fh.write(json.dumps(user) + "\n")
            n += 1
    return path.stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=4.0, help="MB of text to encode")
    ap.add_argument("--log-mb", type=float, default=20.0, help="MB of transcript to estimate")
    args = ap.parse_args()
    text = corpus(args.mb)
    nbytes = len(text.encode())
    print(f"text: {nbytes / 1e6:.1f} MB of this repository's code and docs")
    speed = float("inf")  # the slower encoding's tokens/s
    for name in (O200K, CL100K):
        tok = Tokenizer(name)
        t0 = time.perf_counter()
        enc = tok.encoding()
        load = time.perf_counter() - t0
        best = float("inf")
        tokens = 0
        for _ in range(3):
            t0 = time.perf_counter()
            tokens = len(enc.encode_ordinary(text))
            best = min(best, time.perf_counter() - t0)
        print(
            f"{name}: load {load:.2f} s (read, verify SHA-256, parse, build); "
            f"{tokens:,} tokens; {tokens / best / 1e6:.2f} M tokens/s, "
            f"{nbytes / best / 1e6:.1f} MB/s (one thread)"
        )
        speed = min(speed, tokens / best)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "7c1e2a90-5b3d-4f6e-9a18-2d4c6b8e0f13.jsonl"
        size = transcript(log, text, args.log_mb)
        tracker = ContextTracker(Agent.CLAUDE_CODE, [LogFile(str(log), None)])
        shared(CL100K).encoding()  # loaded before the clock starts: this times the reading
        t0 = time.perf_counter()
        rep = tracker.update()
        took = time.perf_counter() - t0
    est = rep.attribution.input_tokens
    print(
        f"context estimates of a {size / 1e6:.1f} MB transcript ({rep.encoding}, no repeated "
        f"text): {took:.2f} s, {size / took / 1e6:.1f} MB/s of log, {est / took / 1e6:.2f} M "
        "tokens/s"
    )
    log_speed = size / took
    print(
        f"a live session at its peak: ~{LIVE_TOKENS_PER_S} output tokens/s and "
        f"~{LIVE_LOG_BYTES_PER_S / 1e3:.0f} KB/s of log; the slower encoding runs "
        f"{speed / LIVE_TOKENS_PER_S:,.0f}x the first, the whole estimate path "
        f"{log_speed / LIVE_LOG_BYTES_PER_S:,.0f}x the second: "
        + ("it keeps up" if log_speed > LIVE_LOG_BYTES_PER_S else "it does NOT keep up")
    )


if __name__ == "__main__":
    main()
