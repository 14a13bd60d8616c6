"""The report memo: `report --json` on logs that have not changed answers without reading them.

A report is a pure function of the command line, a few environment variables, the claimed log
files, the folders holding them, the config file, the index and the clock. After a full run,
the rendered JSON is kept in the cache dir with a *probe* of each of those paths (inode, size,
mtime) and the moment the clock would change the answer (a session turning idle, an
alert closing by quiet time). The next identical command stats the probes; when every one is
unchanged and that moment has not come, it writes the kept document with a fresh
`generated_at`, never touching the index or a log. Any difference, and the full path runs.

This module is imported before anything else on every start, so it stays small: the standard
library only (msgspec alone costs 30 ms to import), and a plain line format:

    AWMEMO <format> <key> <made_at> <valid_until> <probes> <head bytes> <tail bytes>
    <inode> <size> <mtime_ns> <path>       (one line per probe; "-" for a missing path)
    <head><tail>                           (the document without its generated_at value)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence

from agentwatch import __version__
from agentwatch.core.when import iso_ms

FORMAT = 1
KEEP = 8
"""Memos kept per cache dir (the most recently written)."""
ENV_PREFIXES = ("AGENTWATCH_", "CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_CLI_HOME", "XDG_")
ENV_NAMES = frozenset({"HOME", "TZ"})
"""The environment a report depends on (roots, agentwatch's dirs, time zone)."""
OFF = "AGENTWATCH_NO_MEMO"
"""Set to anything to never answer from a memo."""
_PREFIX = "report-memo-"

Probe = tuple[str, int | None, int | None, int | None]
"""A path and its (inode, size, mtime in ns), or Nones when it does not exist."""


def key_of(argv: Sequence[str], env: Mapping[str, str], cwd: str) -> str:
    """What identifies one command: its words, the environment it reads and where it ran."""
    seen = sorted((k, v) for k, v in env.items() if k in ENV_NAMES or k.startswith(ENV_PREFIXES))
    blob = repr([FORMAT, __version__, list(argv), cwd, seen]).encode("utf-8", "backslashreplace")
    return hashlib.sha256(blob).hexdigest()[:32]


def probe(path: str) -> Probe:
    """A path's inode, size and modification time: the test a warm start uses to decide
    whether a log needs reading (a folder's change when an entry is added or removed)."""
    try:
        st = os.stat(path)
    except OSError:
        return (path, None, None, None)
    return (path, st.st_ino, st.st_size, st.st_mtime_ns)


def probes(paths: Iterable[str]) -> list[Probe]:
    """`probe` of each path (take them before reading: a change during the run then shows)."""
    return [probe(p) for p in paths]


def cache_dir_of(argv: Sequence[str], env: Mapping[str, str]) -> str | None:
    """The cache dir the command line names (`--cache-dir`), else the environment's; None
    when only the platform default applies."""
    for i, word in enumerate(argv):
        if word == "--cache-dir" and i + 1 < len(argv):
            return argv[i + 1]
        if word.startswith("--cache-dir="):
            return word.split("=", 1)[1]
    return env.get("AGENTWATCH_CACHE_DIR") or None


def _file(folder: str, key: str) -> str:
    return os.path.join(folder, f"{_PREFIX}{key}.bin")


def replay(argv: Sequence[str], env: Mapping[str, str], cwd: str, now: float) -> bytes | None:
    """The document for this command when a memo of it still holds, else None."""
    if env.get(OFF) or "report" not in argv or "--no-cache" in argv:
        return None
    where = cache_dir_of(argv, env)
    if where is None:
        import platformdirs  # noqa: PLC0415 (only when no dir was given)

        where = platformdirs.user_cache_dir("agentwatch")
    key = key_of(argv, env, cwd)
    try:
        with open(_file(os.path.expanduser(where), key), "rb") as fh:
            data = fh.read()
        return _check(data, key, now)
    except (OSError, ValueError, IndexError, UnicodeDecodeError):
        return None


def _check(data: bytes, key: str, now: float) -> bytes | None:
    """The renewed document when `data` is a memo of `key` that holds at `now`.

    Raises ValueError, IndexError or UnicodeDecodeError for a damaged memo."""
    end = data.index(b"\n")
    magic, fmt, mkey, made, until, n, head, tail = data[:end].decode().split(" ")
    if magic != "AWMEMO" or int(fmt) != FORMAT or mkey != key:
        return None
    if not float(made) <= now < float(until):
        return None
    pos = end + 1
    stat = os.stat
    for _ in range(int(n)):
        nl = data.index(b"\n", pos)
        ino, size, mtime, path = data[pos:nl].split(b" ", 3)
        pos = nl + 1
        try:
            st = stat(path)
        except OSError:
            if ino != b"-":
                return None
            continue
        if ino == b"-" or (st.st_ino, st.st_size, st.st_mtime_ns) != (
            int(ino),
            int(size),
            int(mtime),
        ):
            return None
    cut = pos + int(head)
    if len(data) != cut + int(tail):
        return None
    return data[pos:cut] + iso_ms(now).encode() + data[cut:]


def save(
    folder: str,
    key: str,
    made_at: float,
    valid_until: float,
    taken: list[Probe],
    document: bytes,
) -> bool:
    """Keep `document` (rendered at `made_at`) for `key`; False when it has no `generated_at`
    to renew or cannot be written. Old memos beyond `KEEP` are removed."""
    stamp = iso_ms(made_at).encode()
    at = document.find(b'"generated_at": "' + stamp + b'"')
    if at < 0:
        return False
    cut = at + len(b'"generated_at": "')
    head, tail = document[:cut], document[cut + len(stamp) :]
    lines = [
        f"AWMEMO {FORMAT} {key} {made_at!r} {valid_until!r} {len(taken)} {len(head)} {len(tail)}"
    ]
    for path, ino, size, mtime in taken:
        if "\n" in path:
            return False
        lines.append(f"- - - {path}" if ino is None else f"{ino} {size} {mtime} {path}")
    blob = "\n".join(lines).encode("utf-8", "surrogateescape") + b"\n" + head + tail
    import tempfile  # noqa: PLC0415 (not needed to replay)

    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".memo-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob)
            os.replace(tmp, _file(folder, key))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _prune(folder, _file(folder, key))
    except OSError:
        return False
    return True


def _prune(folder: str, newest: str) -> None:
    """Keep the memo just written and the `KEEP - 1` most recent others."""
    memos = []
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if name.startswith(_PREFIX) and path != newest:
            with contextlib.suppress(OSError):
                memos.append((os.stat(path).st_mtime_ns, path))
    memos.sort(reverse=True)
    for _, path in memos[KEEP - 1 :]:
        with contextlib.suppress(OSError):
            os.unlink(path)
