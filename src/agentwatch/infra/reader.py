"""Reading appended bytes of a log file as complete lines, robust to truncation and rotation."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

CHUNK = 1024 * 1024  # small chunks keep the transient copies small; long lines still work
TAIL = 128


@dataclass(slots=True)
class FileCursor:
    """How far a file has been read. Only complete lines are handed out; the tail waits."""

    path: str
    """The file."""
    offset: int = 0
    """Bytes consumed: the end of the last complete line handed out."""
    dev: int = 0
    """Device of the file when last read (0 before the first read)."""
    ino: int = 0
    """Inode of the file when last read."""
    pending: int = 0
    """Bytes after `offset` that form an unterminated last line."""
    resets: int = 0
    """How often the file was truncated or replaced."""
    tail: bytes = b""
    """The last bytes before `offset`, to notice a rewrite that kept the size."""
    size: int = -1
    """File size when last opened."""
    mtime_ns: int = -1
    """Modification time when last opened."""

    def unchanged(self, st: os.stat_result) -> bool:
        """True when a stat shows the file as it was at the last read."""
        return (st.st_ino, st.st_size, st.st_mtime_ns) == (self.ino, self.size, self.mtime_ns)

    def read_whole(self, limit: int) -> bytes | None:
        """The whole file, or None when a stat shows it as it was at the last read (a document
        re-written in place is read again in full, never tailed). Reads at most `limit` bytes.

        Raises OSError (missing, unreadable, a directory) for the caller to report.
        """
        fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            st = os.fstat(fd)
            if self.ino and (self.dev, self.ino) == (st.st_dev, st.st_ino) and self.unchanged(st):
                return None
            chunks: list[bytes] = []
            pos = 0
            while pos < limit:
                data = os.pread(fd, min(CHUNK * 8, limit - pos), pos)
                if not data:
                    break
                chunks.append(data)
                pos += len(data)
        finally:
            os.close(fd)
        # The stat from before the read: a write that lands during it changes size or time.
        self.dev, self.ino = st.st_dev, st.st_ino
        self.size, self.mtime_ns = st.st_size, st.st_mtime_ns
        self.offset, self.pending, self.tail = pos, 0, b""
        return b"".join(chunks)

    def read_lines(
        self, chunk: int = CHUNK, on_reset: Callable[[], None] | None = None
    ) -> Iterator[list[bytes]]:
        """Yield batches of new complete lines (without newlines), advancing `offset`.

        Raises OSError (missing, unreadable, a directory) for the caller to report. A file
        that shrank or was replaced is read again from the start, after `on_reset()`.
        """
        fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            st = os.fstat(fd)
            self.size, self.mtime_ns = st.st_size, st.st_mtime_ns
            if (
                (self.dev, self.ino) != (st.st_dev, st.st_ino)
                or st.st_size < self.offset
                or (
                    self.tail
                    and os.pread(fd, len(self.tail), self.offset - len(self.tail)) != self.tail
                )
            ):
                if self.ino:
                    self.resets += 1
                    if on_reset is not None:
                        on_reset()
                self.offset, self.pending, self.tail = 0, 0, b""
                self.dev, self.ino = st.st_dev, st.st_ino
            pos = self.offset
            carry = b""
            while True:
                data = os.pread(fd, chunk, pos)
                if not data:
                    break
                pos += len(data)
                buf = carry + data if carry else data
                end = buf.rfind(b"\n")
                if end < 0:
                    carry = buf
                    continue
                lines = buf.split(b"\n")  # one copy: the pieces; the last is the partial line
                carry = lines.pop()
                self.offset = pos - len(carry)
                self.tail = buf[max(0, end + 1 - TAIL) : end + 1]
                yield lines
            self.pending = len(carry)
        finally:
            os.close(fd)
