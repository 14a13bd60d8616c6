"""Where a process's session can be read off the disk: Claude Code's live registry and project
folders, Gemini's project chats. Used by process discovery; reads only small heads of files."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from agentwatch.core.procs import RegistryEntry, SessionFile, parse_registry
from agentwatch.sources.claude_code import encode_cwd, transcript_dir


def claude_registry(roots: Sequence[Path], pid: int) -> RegistryEntry | None:
    """The Claude Code `sessions/<pid>.json` registry entry of a process, if any."""
    for root in roots:
        path = root / "sessions" / f"{pid}.json"
        try:
            data = path.read_bytes()
            mtime = path.stat().st_mtime
            entry = parse_registry(json.loads(data), mtime)
        except (OSError, ValueError):
            continue
        if entry is not None:
            return entry
    return None


def claude_sessions(roots: Sequence[Path], cwd: str) -> tuple[SessionFile, ...]:
    """Claude Code session files in a cwd's project folder."""
    out: list[SessionFile] = []
    for root in roots:
        folder = transcript_dir(root) / encode_cwd(cwd)
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for e in entries:
            stem = e.name[:-6]
            if e.name.endswith(".jsonl") and len(stem) == 36 and stem.count("-") == 4:
                try:
                    out.append(SessionFile(stem.lower(), e.stat().st_mtime))
                except OSError:
                    continue
    return tuple(out)


_GEMINI_ID = re.compile(rb'"sessionId"\s*:\s*"([^"]{1,200})"')


def gemini_project_dirs(root: Path, cwd: str) -> list[Path]:
    """A cwd's project folders under `<root>/tmp`: the SHA-256 of the path (older builds),
    and any slug folder whose `.project_root` names it (newer builds)."""
    tmp = root / "tmp"
    out = [tmp / hashlib.sha256(cwd.encode()).hexdigest()]
    try:
        folders = list(os.scandir(tmp))
    except OSError:
        return out
    for e in folders:
        try:
            with open(os.path.join(e.path, ".project_root"), "rb") as fh:
                named = fh.read(4096).decode("utf-8", "replace").strip()
        except OSError:
            continue
        if named.rstrip("/") == cwd.rstrip("/"):
            out.append(Path(e.path))
    return out


def gemini_sessions(roots: Sequence[Path], cwd: str) -> tuple[SessionFile, ...]:
    """Gemini chats of a cwd's project (their `sessionId` is in the first bytes)."""
    out: dict[str, SessionFile] = {}
    for root in roots:
        for project in gemini_project_dirs(root, cwd):
            try:
                entries = list(os.scandir(project / "chats"))
            except OSError:
                continue
            for e in entries:
                if not (e.name.startswith("session-") and e.name.endswith((".json", ".jsonl"))):
                    continue
                try:
                    with open(e.path, "rb") as fh:
                        m = _GEMINI_ID.search(fh.read(4096))
                    mtime = e.stat().st_mtime
                except OSError:
                    continue
                if m is not None:
                    sid = m.group(1).decode("utf-8", "replace")
                    if sid not in out or out[sid].mtime < mtime:
                        out[sid] = SessionFile(sid, mtime)
    return tuple(out.values())


__all__ = ["claude_registry", "claude_sessions", "gemini_project_dirs", "gemini_sessions"]
