"""The report memo: `report --json` on logs that have not changed answers without reading them.

A report is a pure function of the command line, a few environment variables, the claimed log
files, the folders holding them, the config file, the index, the installed code and price data,
and the clock. After a full run, the rendered JSON is kept in the cache dir with a *probe* of
each of those paths (inode, size, change time) and the moment the clock would change the answer
(a session turning idle, an alert closing by quiet time). The next identical command stats the
probes; when every one is unchanged and that moment has not come, it writes the kept document
with a fresh `generated_at`, never touching the index or a log. Any difference, and the full
path runs.

This module is imported before anything else on every start, so it stays small: the standard
library only (msgspec alone costs 30 ms to import, hashlib 6 ms), and a plain format:

    AWMEMO <format> <made_at> <valid_until> <key bytes> <probe bytes> <head bytes> <tail bytes>
    <key>                                  (the command, in full: compared, never hashed)
    <inode> <size> <ctime_ns> <path>       (one line per probe; "- - -" for a missing path)
    <head><tail>                           (the document without its generated_at value)
"""

from __future__ import annotations

import os
import zlib

from agentwatch import __version__
from agentwatch.core.stamp import iso_ms

TYPE_CHECKING = False  # typing itself costs 10 ms to import; mypy reads this as True
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

FORMAT = 3
KEEP = 8
"""Memos kept per cache dir (the most recently written)."""
ENV_PREFIXES = ("AGENTWATCH_", "CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_CLI_HOME", "XDG_")
ENV_NAMES = frozenset({"HOME", "TZ"})
"""The environment a report depends on (roots, agentwatch's dirs, time zone)."""
OFF = "AGENTWATCH_NO_MEMO"
"""Set to anything to never answer from a memo."""
_PREFIX = "report-memo-"

Probe = tuple[str, int | None, int | None, int | None]
"""A path and its (inode, size, change time in ns), or Nones when it does not exist. The
change time moves with every write, and also with a chmod or a rename into place."""


def key_of(argv: Sequence[str], env: Mapping[str, str], cwd: str) -> str:
    """What identifies one command: its words, the environment it reads and where it ran."""
    seen = sorted((k, v) for k, v in env.items() if k in ENV_NAMES or k.startswith(ENV_PREFIXES))
    return repr([FORMAT, __version__, list(argv), cwd, seen])


def probe(path: str) -> Probe:
    """A path's inode, size and change time (a folder's changes when an entry is added or
    removed, or its mode changes)."""
    try:
        st = os.stat(path)
    except OSError:
        return (path, None, None, None)
    return of_stat(path, st)


def of_stat(path: str, st: os.stat_result) -> Probe:
    """The probe of a path from a stat already taken."""
    return (path, st.st_ino, st.st_size, st.st_ctime_ns)


def code_paths() -> list[str]:
    """The installed code and price data a report depends on (an upgrade, or an edit of an
    editable install, changes them)."""
    import importlib.util  # noqa: PLC0415 (only when saving)

    out: list[str] = []
    for name in ("agentwatch", "genai_prices"):
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            continue
        for top in spec.submodule_search_locations:
            for folder, dirs, files in os.walk(top):
                dirs[:] = [d for d in dirs if d != "__pycache__"]
                out.append(folder)
                out += [os.path.join(folder, f) for f in files if not f.endswith(".pyc")]
    return out


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
    data = key.encode("utf-8", "surrogateescape")
    return os.path.join(folder, f"{_PREFIX}{zlib.crc32(data):08x}{len(data) % 4096:03x}.bin")


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
    magic, fmt, made, until, nkey, nprobe, nhead, ntail = data[:end].decode().split(" ")
    if magic != "AWMEMO" or int(fmt) != FORMAT or not float(made) <= now < float(until):
        return None
    at = end + 1
    cut = [at + int(nkey)]
    cut.append(cut[0] + int(nprobe))
    cut.append(cut[1] + int(nhead))
    if (
        len(data) != cut[2] + int(ntail)
        or data[at : cut[0]].decode("utf-8", "surrogateescape") != key
    ):
        return None
    stat = os.stat
    block = data[cut[0] : cut[1]].decode("utf-8", "surrogateescape")
    for line in block.split("\n")[:-1]:
        ino, size, ctime, path = line.split(" ", 3)
        try:
            st = stat(path)
        except OSError:
            if ino != "-":
                return None
            continue
        if ino == "-" or st.st_ctime_ns != int(ctime) or st.st_size != int(size):
            return None
        if st.st_ino != int(ino):
            return None
    return data[cut[1] : cut[2]] + iso_ms(now).encode() + data[cut[2] :]


def save(
    folder: str,
    key: str,
    made_at: float,
    valid_until: float,
    taken: list[Probe],
    document: bytes | bytearray,
) -> bool:
    """Keep `document` (rendered at `made_at`) for `key`; False when it has no `generated_at`
    to renew or cannot be written. Old memos beyond `KEEP` are removed."""
    stamp = iso_ms(made_at).encode()
    at = document.find(b'"generated_at": "' + stamp + b'"')
    if at < 0 or any("\n" in p[0] for p in taken):
        return False
    cut = at + len(b'"generated_at": "')
    view = memoryview(document)  # (written in parts: no copy of a document of megabytes)
    head, tail = view[:cut], view[cut + len(stamp) :]
    lines = [
        f"- - - {path}" if ino is None else f"{ino} {size} {ctime} {path}"
        for path, ino, size, ctime in taken
    ]
    block = "".join(f"{ln}\n" for ln in lines).encode("utf-8", "surrogateescape")
    name = key.encode("utf-8", "surrogateescape")
    top = f"AWMEMO {FORMAT} {made_at!r} {valid_until!r} {len(name)} {len(block)}"
    parts = (f"{top} {len(head)} {len(tail)}\n".encode() + name + block, head, tail)
    import contextlib  # noqa: PLC0415 (not needed to replay)
    import tempfile  # noqa: PLC0415 (not needed to replay)

    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".memo-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                for part in parts:
                    fh.write(part)
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
    """Keep the memo just written and the `KEEP - 1` most recent others; remove temp files a
    killed run left (older than an hour)."""
    import time  # noqa: PLC0415 (only when saving)

    memos = []
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if name.startswith(".memo-"):
            try:
                if os.stat(path).st_mtime < time.time() - 3600:
                    os.unlink(path)
            except OSError:
                continue
        elif name.startswith(_PREFIX) and path != newest:
            try:
                memos.append((os.stat(path).st_mtime_ns, path))
            except OSError:
                continue
    memos.sort(reverse=True)
    for _, path in memos[KEEP - 1 :]:
        try:
            os.unlink(path)
        except OSError:
            continue
