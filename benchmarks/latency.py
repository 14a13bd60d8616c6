"""Match `gen_corpus.py live` appends (live-log.jsonl) with `watch --jsonl` usage events.

Each appended assistant line is read back from its file to learn its usage. Under the counting
rules a response key (message.id, requestId) is worth the largest input+output+cache_write+
cache_read seen on any of its lines, so a line changes the tally only when it beats every earlier
line of its key; the other lines (identical streamed copies, `<synthetic>` lines) should produce
no event. A usage event is attributed by value: summing the `delta.total` of a key's events gives
the key's tally after each event, and the event belongs to the first not yet matched
tally-changing line of that key with that value, written at or before the event arrived. Matching
on the value (not merely "the next event for this key") keeps an event caused by a later copy from
being charged to an earlier copy that changed nothing. Latency = receipt time - the line's `t`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Key = tuple[str, str]


@dataclass
class LatencyResult:
    appended_lines: int = 0  # every line the generator appended
    assistant_lines: int = 0  # appended assistant lines with a (message_id, request_id)
    changing_lines: int = 0  # of those, lines that raise their key's tally (should get an event)
    matched: int = 0  # tally-changing lines that got their event
    usage_events: int = 0  # usage events received after `ready`
    unattributed_events: int = 0  # usage events that fit no line (wrong value, unknown key, ...)
    unreadable_lines: int = 0  # log records whose line could not be found or parsed back
    latencies_ms: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def percentile(self, q: float) -> float | None:
        """Nearest-rank percentile, q in (0, 100]."""
        if not self.latencies_ms:
            return None
        xs = sorted(self.latencies_ms)
        rank = max(1, -(-len(xs) * q // 100))  # ceil(n * q / 100)
        return xs[int(rank) - 1]


def _line_value(raw: bytes, rec: dict[str, Any]) -> int | str | None:
    """Tally value of an appended line: an int, None (does not count), or "?" (line mismatch)."""
    try:
        obj = json.loads(raw)
    except ValueError:
        return "?"
    if not isinstance(obj, dict):
        return "?"
    msg = obj.get("message")
    if obj.get("type") != "assistant" or not isinstance(msg, dict):
        return None
    if msg.get("id") != rec["message_id"] or obj.get("requestId") != rec["request_id"]:
        return "?"
    usage = msg.get("usage")
    if not isinstance(usage, dict) or msg.get("model") == "<synthetic>":
        return None
    split = usage.get("cache_creation")
    if isinstance(split, dict):
        write = int(split.get("ephemeral_5m_input_tokens") or 0) + int(
            split.get("ephemeral_1h_input_tokens") or 0
        )
    else:
        write = int(usage.get("cache_creation_input_tokens") or 0)
    return (
        int(usage.get("input_tokens") or 0)
        + int(usage.get("output_tokens") or 0)
        + write
        + int(usage.get("cache_read_input_tokens") or 0)
    )


def _read_records(log_path: Path, res: LatencyResult) -> list[dict[str, Any]]:
    records = []
    with open(log_path, encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            if "event" not in rec:  # the header is {"event": "start", ...}
                records.append(rec)
    res.appended_lines = len(records)
    by_file: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in records:
        by_file[rec["file"]].append(rec)
    for path, recs in by_file.items():
        # The file's last len(recs) lines are the appended ones, in the order they were logged.
        try:
            lines = Path(path).read_bytes().split(b"\n")
        except OSError:
            lines = []
        if lines and not lines[-1]:
            lines.pop()
        tail = lines[-len(recs) :] if len(lines) >= len(recs) else [b""] * len(recs)
        for rec, raw in zip(recs, tail, strict=True):
            rec["value"] = _line_value(raw, rec) if rec.get("message_id") else None
    return records


def analyze(
    log_path: Path, events: list[tuple[float, dict[str, Any]]], ready_at: float
) -> LatencyResult:
    res = LatencyResult()
    records = _read_records(log_path, res)

    # Tally-changing lines per key, in write order.
    pending: dict[Key, list[dict[str, Any]]] = defaultdict(list)
    best: dict[Key, int] = {}
    for rec in records:
        if rec.get("type") != "assistant" or not rec.get("message_id"):
            continue
        res.assistant_lines += 1
        key = (rec["message_id"], rec["request_id"])
        value = rec["value"]
        if value == "?":
            res.unreadable_lines += 1
            continue
        if isinstance(value, int) and value > best.get(key, 0):
            best[key] = value
            res.changing_lines += 1
            pending[key].append(rec)

    tally: dict[Key, int] = defaultdict(int)
    for recv, ev in events:
        if ev.get("event") != "usage" or recv < ready_at:
            continue
        res.usage_events += 1
        key = (ev.get("message_id"), ev.get("request_id"))
        delta = ev.get("delta") or {}
        tally[key] += int(delta.get("total") or 0)
        cands = pending.get(key, [])
        hit = next((r for r in cands if r["value"] == tally[key] and r["t"] <= recv + 0.001), None)
        if hit is None:
            res.unattributed_events += 1
            continue
        cands.remove(hit)
        res.matched += 1
        res.latencies_ms.append(max(0.0, recv - hit["t"]) * 1000.0)
    if res.unreadable_lines:
        res.notes.append(f"{res.unreadable_lines} logged lines could not be read back")
    return res


def final_totals(events: list[tuple[float, dict[str, Any]]]) -> dict[str, dict[str, int]]:
    """The last `session_total` seen per session id in the event stream."""
    out: dict[str, dict[str, int]] = {}
    for _, ev in events:
        if ev.get("event") == "usage" and isinstance(ev.get("session_total"), dict):
            out[str(ev.get("session_id"))] = ev["session_total"]
    return out
