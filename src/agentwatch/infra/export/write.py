"""Writing exports: atomic (temp file in the same folder, then rename), mode 0600, no clobber."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


class OutputExistsError(Exception):
    """The output file exists and overwriting was not asked for."""


class OutputError(Exception):
    """The output file could not be written; the message is fit for the user."""


def _temp(folder: Path, name: str, data: bytes | bytearray) -> Path:
    """The data in a fresh 0600 file beside the target, flushed to disk."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Path(tmp)


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def write_atomic(path: Path, data: bytes | bytearray, *, force: bool = False) -> Path:
    """Write `data` to `path` so that readers see the old file or the whole new one.

    The file gets mode 0600 (exports can hold prompts and paths). Without `force` an existing
    file is never replaced, even one created while we were writing (the final step is a hard
    link, which fails if the name is taken).

    Args:
        path: The file to write.
        data: Its whole content.
        force: Replace an existing file.

    Returns:
        The absolute path written.

    Raises:
        OutputExistsError: If `path` exists and `force` is false.
        OutputError: If the folder is missing or not writable, or `path` is a directory.
    """
    path = Path(path).expanduser().absolute()
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a directory")
    if not force and (path.exists() or path.is_symlink()):
        raise OutputExistsError(f"{path} exists; use --force to replace it")
    try:
        tmp = _temp(path.parent, path.name, data)
    except FileNotFoundError:
        raise OutputError(f"cannot write {path}: no such directory {path.parent}") from None
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_why(exc)}") from None
    try:
        if force:
            os.replace(tmp, path)
        else:
            _link_no_clobber(tmp, path)
    except FileExistsError:
        raise OutputExistsError(f"{path} exists; use --force to replace it") from None
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_why(exc)}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return path


def _link_no_clobber(tmp: Path, path: Path) -> None:
    """Give the temp file its final name only if nothing holds that name."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:  # a filesystem without hard links: check, then rename (a tiny race)
        if path.exists() or path.is_symlink():
            raise FileExistsError(str(path)) from None
        os.replace(tmp, path)


def write_unique(folder: Path, stem: str, suffix: str, data: bytes) -> Path:
    """Write a new file `<stem><suffix>` in `folder`, or `<stem>-2<suffix>` and so on.

    Never overwrites anything. The folder is created if needed.

    Returns:
        The absolute path written.

    Raises:
        OutputError: If the folder cannot be created or written.
    """
    folder = Path(folder).expanduser().absolute()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {folder}: {_why(exc)}") from None
    for n in range(1, 10_000):
        name = f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}"
        try:
            return write_atomic(folder / name, data)
        except OutputExistsError:
            continue
    raise OutputError(f"cannot find a free name for {stem}{suffix} in {folder}")
