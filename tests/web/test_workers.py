"""Long conversations rendered with helper processes: same HTML, and a dead helper costs
nothing but time."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freehold.models import AttachmentRef, Message
from freehold.web.workers import SPLIT_FROM, Renderers, render_bodies, slices

CODE = "```python\ndef f(x: int) -> bool:\n    return x < {n} and '<b>'\n```"


def message(n: int, size: int = 0) -> Message:
    text = f"Message **{n}** <tag> with [a link](https://a.example/{n}).\n\n" + CODE.format(n=n)
    text += "\n\n" + "word " * (size // 5)
    parts: list[dict[str, object]] = [{"type": "text", "text": text}]
    attachments = []
    if n % 50 == 0:
        parts.append({"type": "image", "pointer": f"file-{n}"})
        ref = AttachmentRef(pointer=f"file-{n}", name=f"pic {n}.png", sha256=f"{n:064x}")
        ref.sniffed_mime = "image/png"
        attachments.append(ref)
    role = "user" if n % 2 else "assistant"
    return Message(
        str(n), None, role, "text", parts, text, hidden=n % 97 == 0, attachments=attachments
    )


def conversation(count: int, size: int) -> list[Message]:
    return [message(n, size) for n in range(count)]


@pytest.fixture
def renderers() -> Iterator[Renderers]:
    pool = Renderers(workers=1)
    yield pool
    pool.close()


@given(
    st.lists(st.integers(0, 5000), max_size=60),
    st.integers(1, 5),
    st.sampled_from([1.0, 1.25, 2.0]),
)
def test_slices_keep_every_message_in_order(sizes: list[int], count: int, first: float) -> None:
    messages = [message(n, size) for n, size in enumerate(sizes)]
    cut = slices(messages, count, first)
    assert len(cut) == count
    assert [m for part in cut for m in part] == messages
    total = sum(len(m.text) + 64 for m in messages)
    biggest = max((len(m.text) + 64 for m in messages), default=0)
    share = total / (first + count - 1)
    for n, part in enumerate(cut[:-1]):
        assert sum(len(m.text) + 64 for m in part) <= share * (first if n == 0 else 1) + biggest


def test_a_long_conversation_renders_the_same_with_a_helper(renderers: Renderers) -> None:
    messages = conversation(400, 400)
    assert sum(len(m.text) for m in messages) > SPLIT_FROM
    for language in ("en", "fr"):
        shared = renderers.bodies(messages, language)
        assert shared == render_bodies(messages, language)
    assert renderers._pool is not None  # the helper did take part
    assert "(missing attachment" not in shared[0] and "/attachments/" + "0" * 64 in shared[0]
    assert len(shared) == 400 and "Message <strong>398</strong>" in shared[-2]  # an answer
    assert "Message **399** &lt;tag&gt;" in shared[-1]  # a person's text, as typed


def test_a_short_conversation_starts_no_helper(renderers: Renderers) -> None:
    messages = conversation(20, 100)
    assert renderers.bodies(messages, "en") == render_bodies(messages, "en")
    assert renderers._pool is None


def test_no_workers_means_no_pool() -> None:
    pool = Renderers(workers=0)
    messages = conversation(400, 400)
    assert pool.bodies(messages, "en") == render_bodies(messages, "en")
    assert pool._pool is None


def test_a_killed_helper_costs_no_page(
    renderers: Renderers, caplog: pytest.LogCaptureFixture
) -> None:
    messages = conversation(400, 400)
    expected = render_bodies(messages, "en")
    assert renderers.bodies(messages, "en") == expected
    pool = renderers._pool
    assert pool is not None
    for pid in list(pool._processes):  # the helpers, killed as the OOM killer would
        os.kill(pid, signal.SIGKILL)
    with caplog.at_level(logging.WARNING, logger="freehold.web.workers"):
        assert renderers.bodies(messages, "en") == expected
    assert "rendering here instead" in caplog.text
    assert renderers._pool is not pool  # dropped, and started again on the next long page
    assert renderers.bodies(messages, "en") == expected
    assert renderers._pool is not None and renderers._pool is not pool


def test_a_pool_found_broken_at_submit_is_replaced(
    renderers: Renderers, caplog: pytest.LogCaptureFixture
) -> None:
    messages = conversation(400, 400)
    expected = render_bodies(messages, "en")
    renderers.bodies(messages, "en")
    pool = renderers._pool
    assert pool is not None
    pool.shutdown(wait=True)  # submit now raises, as on a pool already known to be broken
    with caplog.at_level(logging.WARNING, logger="freehold.web.workers"):
        assert renderers.bodies(messages, "en") == expected
    assert "rendering here instead" in caplog.text
    assert renderers._pool is None
