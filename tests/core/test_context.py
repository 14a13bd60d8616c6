"""Context attribution, grouping and placeholder estimates, with a fake counter."""

from __future__ import annotations

from agentwatch.core.context import (
    Consumer,
    ContextItem,
    ContextKind,
    ContextTally,
    ResponseSeen,
    attribute,
    relative,
    reread_tokens,
    short,
)

K = ContextKind


class Words:
    """A fake tokenizer: one token per whitespace-separated word; remembers what it counted."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, text: str) -> int:
        self.seen.append(text)
        return len(text.split())


def words(n: int, word: str = "w") -> str:
    return " ".join([word] * n)


def test_groups_by_kind_and_label_and_ranks_the_biggest_first() -> None:
    big = words(12_000)
    items = [
        ContextItem(K.PROMPT, "prompts", words(5)),
        *[ContextItem(K.READ, "Read src/big.py", big) for _ in range(7)],
        ContextItem(K.TOOL, "Bash `pytest -q`", words(300)),
        ContextItem(K.TOOL, "Bash `pytest -q`", words(200), "a1"),
        ContextItem(K.READ, "Read src/small.py", words(10), "a1"),
        ContextItem(K.OUTPUT, "text", words(50_000)),  # output is never a context consumer
    ]
    att = attribute(items, Words(), top=3)
    assert [c.describe() for c in att.top] == [
        "Read src/big.py x7: ~84k tokens est.",
        "Bash `pytest -q` x2: ~500 tokens est.",
        "Read src/small.py: ~10 tokens est.",
    ]
    assert att.top[1].threads == 2
    assert len(att.top_all) == 4
    assert att.by_kind[K.READ] == 84_010
    assert att.by_kind[K.OUTPUT] == 50_000
    assert att.input_tokens == 84_010 + 500 + 5
    main, sub = att.threads
    assert (main.agent_id, main.input_tokens, main.output_tokens) == (None, 84_305, 50_000)
    assert (sub.agent_id, sub.input_tokens) == ("a1", 210)


def test_identical_texts_are_counted_once() -> None:
    count = Words()
    tally = ContextTally(count)
    body = words(1000, "line")
    tally.add([ContextItem(K.READ, "Read a.py", body) for _ in range(5)])
    tally.add([ContextItem(K.READ, "Read b.py", body + " changed")])
    assert count.seen == [body, body + " changed"]
    assert tally.snapshot().top[0] == Consumer(K.READ, "Read a.py", 5, 5000, 1)


def test_placeholder_output_gets_an_estimate_beside_the_logged_number() -> None:
    # A sub-agent in a placeholder era: three responses that never got a final line.
    recs: list[ContextItem | ResponseSeen] = []
    for i in range(3):
        recs.append(ContextItem(K.OUTPUT, "text", words(400), "a1", f"m{i}"))
        recs.append(ResponseSeen("a1", f"m{i}", 2, final=False, lower_bound=True))
    # The main thread: one response that did get its final line (exact: no estimate needed).
    recs += [
        ContextItem(K.OUTPUT, "text", words(90), None, "mm"),
        ResponseSeen(None, "mm", 8, final=False, lower_bound=True),
        ResponseSeen(None, "mm", 120, final=True, lower_bound=True),
    ]
    att = attribute(recs, Words())
    main, sub = att.threads
    assert (main.responses, main.logged_output, main.unfinished) == (1, 120, 0)
    assert main.corrected_output == 120
    assert (sub.responses, sub.logged_output, sub.unfinished) == (3, 6, 3)
    assert (sub.unfinished_logged, sub.unfinished_est) == (6, 1200)
    assert sub.corrected_output == 1200
    assert [(s.agent_id, s.response, s.logged_output, s.est_output) for s in att.streaming] == [
        ("a1", "m2", 2, 400)
    ]


def test_a_streaming_response_is_estimated_until_its_final_line_arrives() -> None:
    tally = ContextTally(Words())
    tally.add(
        [
            ContextItem(K.OUTPUT, "thinking", words(300), None, "m1"),
            ResponseSeen(None, "m1", 8, final=False, lower_bound=True),
        ]
    )
    (s,) = tally.snapshot().streaming
    assert (s.response, s.logged_output, s.est_output) == ("m1", 8, 300)
    tally.add(
        [
            ContextItem(K.OUTPUT, "text", words(100), None, "m1"),
            ResponseSeen(None, "m1", 8, final=False, lower_bound=True),
        ]
    )
    assert tally.snapshot().streaming[0].est_output == 400
    tally.add([ResponseSeen(None, "m1", 377, final=True, lower_bound=True)])
    att = tally.snapshot()
    assert att.streaming == ()
    assert att.threads[0].logged_output == 377
    assert att.threads[0].corrected_output == 377  # the exact figure replaced the estimate


def test_placeholders_are_never_estimated_where_the_log_is_final_from_the_start() -> None:
    att = attribute(
        [
            ContextItem(K.OUTPUT, "text", words(50), None, "m1"),
            ResponseSeen(None, "m1", 377, final=False, lower_bound=False),  # 2.1.97+
        ],
        Words(),
    )
    assert att.streaming == ()
    assert att.threads[0].unfinished == 0


def test_the_estimate_never_goes_below_a_placeholder_lower_bound() -> None:
    att = attribute(
        [
            ContextItem(K.OUTPUT, "thinking", "", "a1", "m1"),  # redacted thinking: no text
            ResponseSeen("a1", "m1", 900, final=False, lower_bound=True),
        ],
        Words(),
    )
    assert att.threads[0].corrected_output == 900


def test_reread_tokens_joins_an_alerts_evidence_to_the_reads() -> None:
    items = [ContextItem(K.READ, "Read src/big.py", words(1000)) for _ in range(4)]
    items.append(ContextItem(K.READ, "Read README.md", words(30)))
    att = attribute(items, Words())
    files = {"/home/dev/shop-api/src/big.py": 3, "/elsewhere/never-read.txt": 2}
    assert reread_tokens(att, files) == 3000
    assert reread_tokens(att, {"/x/never.py": 5}) is None


def test_images_are_counted_not_estimated() -> None:
    att = attribute([ContextItem(K.TOOL, "mcp__shot", "", None, None, images=2)], Words())
    assert att.images == 2
    assert att.by_kind[K.TOOL] == 0


def test_labels_helpers() -> None:
    assert relative("/home/dev/shop-api/src/a.py", "/home/dev/shop-api") == "src/a.py"
    assert relative("/home/dev/shop-api2/a.py", "/home/dev/shop-api") == "/home/dev/shop-api2/a.py"
    assert relative("C:\\app\\src\\a.py", "C:\\app") == "src\\a.py"
    assert short("pytest   -q\n--lf", 60) == "pytest -q --lf"
    assert short("x" * 100, 10) == "x" * 9 + "…"
