"""One entry point for every `report` format: an `Export` in, the document's bytes out."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import msgspec

from agentwatch.core.groups import Group
from agentwatch.infra.export import (
    csv_report,
    html_report,
    json_report,
    markdown,
    printable,
    table,
)
from agentwatch.infra.export import markdown as md
from agentwatch.infra.export.model import Export, key_of, zone_name
from agentwatch.infra.export.palette import Palette
from agentwatch.infra.scan import ScanStats

SUFFIX = {"table": ".txt", "json": ".json", "csv": ".csv", "md": ".md", "html": ".html"}


def group_json(g: Group) -> dict[str, Any]:
    """GROUP (CLI_CONTRACT section 3), plus the cost flags."""
    return {
        "key": g.key,
        "by": str(g.by),
        "tokens": g.tokens.as_dict(),
        "cost_usd": g.cost_usd,
        "sessions": g.sessions,
        "cost_is_estimate": g.account.cost_is_estimate,
        "unpriced_models": g.account.unpriced_models,
    }


class _Printable(io.StringIO):
    """The table's buffer: whatever a log string holds, no control character gets through."""

    def write(self, s: str, /) -> int:
        return super().write(printable(s))


def json_doc(doc: Export) -> dict[str, Any]:
    """`report --json`: the contract document, with `groups` only under `--by` and each
    session's `text` only under `--include-text`."""
    out = json_head(doc)
    out["sessions"] = list(json_sessions(doc))
    return out


def json_head(doc: Export) -> dict[str, Any]:
    """`json_doc` with an empty `sessions` list in its place."""
    base = json_report.head(doc.report, doc.stats or ScanStats(), doc.now)
    out: dict[str, Any] = {}
    for k, v in base.items():
        if k == "skipped" and doc.groups is not None:
            out["groups"] = [group_json(g) for g in doc.groups]
        out[k] = v
    if doc.texts is not None:
        out["text"] = {
            "included": True,
            "redacted": doc.redacted,
            "secrets_redacted": sum(t.secrets for t in doc.texts.values()),
        }
    return out


def json_sessions(doc: Export) -> Iterator[dict[str, Any]]:
    """`json_doc`'s sessions, one at a time."""
    if doc.contexts is not None:
        from agentwatch.infra.context import summary_json  # noqa: PLC0415
    entries = json_report.sessions(doc.report, doc.signals)
    for s, entry in zip(doc.report.sessions, entries, strict=True):
        if doc.texts is not None:
            text = doc.texts.get(key_of(s))
            entry["text"] = [t.to_json() for t in text.entries] if text else []
            entry["text_omitted"] = text.omitted if text else 0
        if doc.contexts is not None:
            rep = doc.contexts.get(key_of(s))
            entry["context_est"] = summary_json(rep) if rep is not None else None
        yield entry


_SESSIONS = b'\n  "sessions": []'
_INDENT = b"\n    "  # (JSON text holds no raw newline: each one is formatting)


def render_json(doc: Export) -> bytearray:
    """`json_doc` as `msgspec.json.format(..., indent=2)` writes it, and a newline, built
    one session at a time: the whole tree and two copies of the text are never in memory
    together (on a gigabyte of history that was 10 MiB at the peak)."""
    text = msgspec.json.format(msgspec.json.encode(json_head(doc)), indent=2)
    at = text.index(_SESSIONS) + len(_SESSIONS) - 2  # (the top level's: indented once)
    out = bytearray(text[:at])
    sep = b"[" + _INDENT
    for entry in json_sessions(doc):
        out += sep
        out += msgspec.json.format(msgspec.json.encode(entry), indent=2).replace(b"\n", _INDENT)
        sep = b"," + _INDENT
    out += b"[]" if sep.startswith(b"[") else b"\n  ]"
    out += text[at + 2 :]
    out += b"\n"
    return out


def context_lines(doc: Export, *, markdown: bool) -> list[str]:
    """`--context`: each session's top context consumers, all marked `est.`."""
    if not doc.contexts:
        return []
    from agentwatch.infra.context import describe  # noqa: PLC0415 (tokenizer only with --context)

    out = ["", "### Context (est.)" if markdown else "Context (est.)", ""]
    for s in doc.report.sessions:
        rep = doc.contexts.get(key_of(s))
        if rep is None:
            continue
        name = f"{s.session_id[:8]} {s.project or ''}".strip()
        body = describe(rep, live=False)
        if markdown:  # paths and labels come from logs: escaped, and fenced as plain text
            out += [f"**{md.esc(name)}** (tiktoken {rep.encoding})", "", md.fence("\n".join(body))]
        else:
            out += [f"{name}:", *(f"  {line}" for line in body)]
        out.append("")
    return out


def render(
    fmt: str, doc: Export, palette: Palette | None = None, width: int = 160
) -> bytes | bytearray:
    """The document in `fmt` (one of `FORMATS`), UTF-8."""
    if fmt == "json":
        return render_json(doc)
    # Text formats reach terminals (stdout) and viewers: no control character from a log
    # survives in them (JSON escapes its own).
    if fmt == "csv":
        return printable(csv_report.render(doc)).encode("utf-8")
    if fmt == "md":
        extra = "\n".join(context_lines(doc, markdown=True))
        return printable(markdown.render(doc) + extra + ("\n" if extra else "")).encode("utf-8")
    if fmt == "html":
        return printable(html_report.render(doc, palette)).encode("utf-8")
    if fmt == "table":
        buf = _Printable()
        table.render(doc.report, width, buf.write)
        table.render_alerts(doc.report, doc.signals, buf.write)
        if doc.groups is not None:
            by = str(doc.groups[0].by) if doc.groups else ""
            title = f"By day ({zone_name(doc.tz, doc.now)})" if by == "day" else f"By {by}"
            table.render_groups(doc.groups, buf.write, title)
        for line in context_lines(doc, markdown=False):
            buf.write(line + "\n")
        return buf.getvalue().encode("utf-8")
    raise ValueError(f"unknown format {fmt!r}")
