"""Compare `agentwatch report --json` output with a gen_corpus manifest.json, field by field."""

from __future__ import annotations

import json
import sys
from typing import Any

FIELDS = ("input", "output", "cache_write", "cache_write_1h", "cache_read", "reasoning", "total")
AGENTS = {"claude": "claude-code", "codex": "codex", "gemini": "gemini"}


def _tok(t: dict[str, Any]) -> tuple[int, ...]:
    return tuple(int(t.get(k, 0)) for k in FIELDS)


def compare(report: dict[str, Any], manifest: dict[str, Any]) -> list[str]:
    """Every difference, as readable lines; [] when everything matches exactly."""
    diffs: list[str] = []
    got = {(s["agent"], s["session_id"]): s for s in report["sessions"]}
    want_sessions = manifest["sessions"]
    for ms in want_sessions:
        key = (AGENTS.get(ms["agent"], ms["agent"]), ms["session_id"])
        rs = got.pop(key, None)
        if rs is None:
            if _tok(ms["total"])[-1]:
                diffs.append(f"missing session {key}")
            continue
        if _tok(rs["tokens"]) != _tok(ms["main"]):
            diffs.append(f"{key} main: got {_tok(rs['tokens'])} want {_tok(ms['main'])}")
        if _tok(rs["total_tokens"]) != _tok(ms["total"]):
            diffs.append(f"{key} total: got {_tok(rs['total_tokens'])} want {_tok(ms['total'])}")
        subs = {x["agent_id"]: x for x in rs["subagents"]}
        for aid, msub in ms.get("subagents", {}).items():
            rsub = subs.pop(aid, None)
            if rsub is None:
                if _tok(msub["tokens"])[-1]:
                    diffs.append(f"{key} missing sub-agent {aid}")
                continue
            if _tok(rsub["tokens"]) != _tok(msub["tokens"]):
                diffs.append(
                    f"{key} sub {aid}: got {_tok(rsub['tokens'])} want {_tok(msub['tokens'])}"
                )
            if msub.get("agent_type") and rsub.get("agent_type") != msub["agent_type"]:
                diffs.append(
                    f"{key} sub {aid}: type {rsub.get('agent_type')} want {msub['agent_type']}"
                )
        diffs.extend(
            f"{key} unexpected sub-agent {aid}" for aid, x in subs.items() if _tok(x["tokens"])[-1]
        )
    diffs.extend(f"unexpected session {k}" for k, s in got.items() if _tok(s["total_tokens"])[-1])
    if _tok(report["totals"]["tokens"]) != _tok(manifest["totals"]["all"]):
        diffs.append(
            f"grand total: got {_tok(report['totals']['tokens'])} "
            f"want {_tok(manifest['totals']['all'])}"
        )
    return diffs


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as fh:
        report = json.load(fh)
    with open(sys.argv[2], encoding="utf-8") as fh:
        manifest = json.load(fh)
    diffs = compare(report, manifest)
    for d in diffs[:50]:
        print(d)
    print(f"{len(diffs)} differences over {len(manifest['sessions'])} sessions")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
