"""Gemini CLI processes mapped to their chats (FORMATS section 5: cwd -> project -> newest chat)."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from agentwatch.core.procs import Confidence
from agentwatch.infra.procs import PsutilTable, discover
from tests.conftest import AgentSpawner

G1 = "5b0f8a44-1c2d-4e3f-9a0b-1c2d3e4f5a6b"
G2 = "6c1a9b55-2d3e-4f40-8b1c-2d3e4f5a6b7c"
OLD = "7d2bac66-3e4f-4051-9c2d-3e4f5a6b7c8d"


def chat(folder: Path, session_id: str, mtime: float, *, legacy: bool = False) -> None:
    chats = folder / "chats"
    chats.mkdir(parents=True, exist_ok=True)
    name = f"session-2026-03-01T09-12-{session_id[:8]}.json" + ("" if legacy else "l")
    path = chats / name
    if legacy:
        doc = {"sessionId": session_id, "projectHash": "x", "messages": []}
        path.write_text(json.dumps(doc, indent=2))
    else:
        meta = {"sessionId": session_id, "projectHash": "x", "kind": "main"}
        path.write_text(json.dumps(meta) + "\n")
    os.utime(path, (mtime, mtime))


def test_a_gemini_process_maps_to_the_newest_chat_of_its_project(
    spawner: AgentSpawner, tmp_path: Path
) -> None:
    home = tmp_path / "gemini-home" / ".gemini"
    hashed, slugged = tmp_path / "work" / "shop", tmp_path / "work" / "blog"
    hashed.mkdir(parents=True)
    slugged.mkdir(parents=True)
    started = time.time()
    # Older builds: the project folder is the SHA-256 of the cwd.
    by_hash = home / "tmp" / hashlib.sha256(str(hashed).encode()).hexdigest()
    chat(by_hash, OLD, started - 86400)  # yesterday's chat: not this process's
    chat(by_hash, G1, started + 5, legacy=True)
    # Newer builds: a slug folder that names its cwd in .project_root.
    by_slug = home / "tmp" / "blog"
    by_slug.mkdir(parents=True)
    (by_slug / ".project_root").write_text(str(slugged) + "\n")
    chat(by_slug, G2, started + 5)

    gemini = [str(spawner.script("bin/gemini", shebang=True))]
    a = spawner.start(gemini, cwd=hashed)
    b = spawner.start(gemini, cwd=slugged)
    c = spawner.start([*gemini, "--resume", OLD], cwd=hashed)
    found = {p.pid: p for p in discover(PsutilTable(), [], gemini_roots=[home])}

    assert found[c.pid].session.session_id == OLD  # named on its command line
    assert found[c.pid].session.mapping is Confidence.EXACT
    assert (found[a.pid].session.session_id, found[a.pid].session.mapping) == (
        G1,
        Confidence.LIKELY,
    )
    assert found[a.pid].session.source == "cwd"
    assert (found[b.pid].session.session_id, found[b.pid].session.mapping) == (
        G2,
        Confidence.LIKELY,
    )
    # Without the Gemini home, nothing can be said about the ones that name no session.
    bare = {p.pid: p for p in discover(PsutilTable(), [])}
    assert bare[a.pid].session.mapping is Confidence.UNKNOWN
    assert bare[a.pid].agent == "gemini"
