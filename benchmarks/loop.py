"""How fast a live loop is caught: `gen_corpus.py live --loop` against `agentwatch watch --jsonl`.

Prints the seconds from the loop session's first appended line to agentwatch's `alert` event
for it, and whether any other session was alerted (a false positive on the normal sessions).

    python benchmarks/loop.py [--duration 150] [--rate 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

GEN = Path(__file__).resolve().parents[2] / "shared" / "bench" / "gen_corpus.py"
BIN = Path(sys.executable).parent / "agentwatch"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=float, default=150.0)
    ap.add_argument("--rate", type=float, default=20.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="aw-loop-") as tmp:
        tree = Path(tmp) / "tree"
        env = {
            **os.environ,
            "AGENTWATCH_CACHE_DIR": f"{tmp}/cache",
            "AGENTWATCH_CONFIG_DIR": f"{tmp}/cfg",
        }
        subprocess.run(
            [sys.executable, str(GEN), "build", str(tree), "--size-mb", "2", "--seed", "5"],
            check=True, capture_output=True,
        )  # fmt: skip
        watch = subprocess.Popen(
            [str(BIN), "watch", "--jsonl", "--claude-dir", str(tree / "claude")],
            stdout=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        alerts: list[tuple[float, dict[str, object]]] = []
        ready = threading.Event()

        def pump() -> None:
            assert watch.stdout is not None
            for line in watch.stdout:
                ev = json.loads(line)
                if ev["event"] == "ready":
                    ready.set()
                elif ev["event"] == "alert":
                    alerts.append((time.time(), ev))

        threading.Thread(target=pump, daemon=True).start()
        ready.wait(60)
        subprocess.run(
            [sys.executable, str(GEN), "live", str(tree), "--rate", str(args.rate),
             "--duration", str(args.duration), "--loop"],
            check=True, capture_output=True,
        )  # fmt: skip
        time.sleep(2)
        watch.terminate()
        watch.wait(10)
        log = [json.loads(x) for x in (tree / "live-log.jsonl").read_text().splitlines()]
        header = log[0]
        loop_id = header["loop_session_id"]
        first = min(r["t"] for r in log[1:] if r.get("session_id") == loop_id)
        mine = [(t, e) for t, e in alerts if e["session_id"] == loop_id]
        others = sorted({str(e["session_id"]) for _, e in alerts if e["session_id"] != loop_id})
        print(f"live workload: {args.rate:g} lines/s for {args.duration:g} s, one looping session")
        if mine:
            t, e = mine[0]
            print(
                f"loop alerted after {t - first:.1f} s of loop onset ({e['kind']}, {e['severity']})"
            )
            print(f"  reason: {e['reason']}")
        else:
            print("loop NOT alerted")
        print(f"alert kinds for the loop: {sorted({str(e['kind']) for _, e in mine})}")
        print(f"other sessions alerted: {len(others)} {others[:3]}")


if __name__ == "__main__":
    main()
