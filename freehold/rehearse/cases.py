"""Past prompts as rehearsal cases: found in the archive, described, sampled, and each given
the path it had and the answer it got.

A prompt is a user message on a conversation's visible path that holds text and got an
answer (a shown assistant message before the next prompt). One pass over the visible paths
in id order (the archive assigns ids parents first, so that is path order) finds them; a big
archive is cut to the ``POOL`` prompts of lowest rank (the sampler's own shuffled order; four
per place asked for when that is more), so the work stays bounded and the pool is a uniform
sample of all of them.

Each prompt is described by four strata: its topic (k-means over its embedding, named by
the commonest word of its prompts; without wordllama, the conversation title's first word),
its length, its language and whether it holds code. ``pick`` samples (``sample.py``), adds
the pinned prompts, and loads each case's conversation: the path up to the prompt (what the
candidates will be sent, ``carry.py``) and the original answer (the shown assistant text
that followed it, up to the next prompt).
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from freehold import _queries, carry, embeddings
from freehold.archive import Archive
from freehold.embeddings import Embedder
from freehold.errors import FreeholdError
from freehold.models import Conversation, Message, without_citation_marks
from freehold.rehearse import text as _text
from freehold.rehearse.sample import Candidate, rank, sample

__all__ = ["POOL", "Case", "Prompt", "describe", "find_prompts", "original_answer", "pick"]

POOL = 2000  # prompts described; more when more are asked for (4 per place)
_MAX_TOPICS = 16
_WORD = re.compile(r"[^\W\d_]{4,}", re.UNICODE)
_COMMON = frozenset(
    {
        *("this", "that", "with", "what", "have", "from", "your", "about", "would", "could"),
        *("should", "there", "their", "which", "when", "into", "them", "then", "than", "will"),
        *("just", "like", "make", "does", "want", "need", "please", "write", "give", "more"),
        *("some", "also", "only", "very", "here", "were", "been", "other", "each"),
    }
)


@dataclass(slots=True)
class Prompt:
    """A past prompt that got an answer."""

    message_id: int
    conversation_id: str
    text: str
    title: str | None

    @property
    def key(self) -> str:
        return f"m{self.message_id}"


@dataclass(slots=True)
class Case:
    """One prompt to replay: what it was, what it got, and the path it had."""

    position: int
    message_id: int
    conversation_id: str
    title: str | None
    prompt: str
    original: str
    original_model: str | None
    strata: dict[str, str]
    pinned: bool = False
    path: list[Message] = field(default_factory=list)
    conversation: Conversation | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "message_id": self.message_id,
            "conversation_id": self.conversation_id,
            "title": self.title,
            "prompt": self.prompt,
            "original": self.original,
            "original_model": self.original_model,
            "strata": self.strata,
            "pinned": self.pinned,
        }


def find_prompts(
    archive: Archive,
    *,
    query: str | None = None,
    conversations: Sequence[str] = (),
    seed: int = 0,
    pool: int = POOL,
) -> list[Prompt]:
    """The answered prompts (at most ``pool`` of them, the lowest ranks), in rank order."""
    wanted = _matching(archive, query) if query else None
    where, params = "", list(conversations)
    if conversations:
        where = f" AND m.conversation_id IN ({','.join('?' * len(conversations))})"
    rows = archive.db.execute(
        "SELECT m.id, m.conversation_id, m.role, m.hidden, substr(m.text, 1, 2000), c.title "
        "FROM messages m JOIN conversations c ON c.id = m.conversation_id "
        f"WHERE m.on_visible_path = 1{where} ORDER BY m.id",
        params,
    )
    kept: list[tuple[int, int, Prompt]] = []  # a max-heap by rank, as (-rank, id, prompt)
    open_prompts: dict[str, Prompt | None] = {}
    answered: set[int] = set()

    def close(prompt: Prompt | None) -> None:
        if prompt is None or prompt.message_id not in answered:
            return
        order = -int.from_bytes(rank(seed, prompt.key), "big")
        item = (order, prompt.message_id, prompt)
        if len(kept) < pool:
            heapq.heappush(kept, item)
        elif item > kept[0]:
            heapq.heapreplace(kept, item)

    for mid, cid, role, hidden, body, title in rows:
        if role == "user" and not hidden and body.strip():
            close(open_prompts.get(cid))
            take = wanted is None or mid in wanted
            open_prompts[cid] = Prompt(mid, cid, body, title) if take else None
        elif role == "user":
            close(open_prompts.pop(cid, None))
        elif role == "assistant" and not hidden and body.strip() and open_prompts.get(cid):
            answered.add(open_prompts[cid].message_id)  # type: ignore[union-attr]
    for prompt in open_prompts.values():
        close(prompt)
    return [item[2] for item in sorted(kept, reverse=True)]


def _matching(archive: Archive, query: str) -> set[int]:
    """User messages that the full-text search finds for ``query`` (its newest 1,000)."""
    where = _queries.filters(None, None, "user", None, None, None)
    _match, rows = _queries.candidates(archive.db, query, where)
    return {int(row[0]) for row in rows}


def describe(prompts: Sequence[Prompt], embedder: Embedder, topics: int) -> list[Candidate]:
    """Each prompt as the sampler sees it: (topic, length, language, code)."""
    labels = _topics(prompts, embedder, topics)
    return [
        Candidate(
            prompt.key,
            _same(prompt.text),
            (
                labels[n],
                _text.length_bucket(prompt.text),
                _text.language(prompt.text),
                "code" if _text.looks_like_code(prompt.text) else "prose",
            ),
        )
        for n, prompt in enumerate(prompts)
    ]


def _same(text: str) -> str:
    flat = " ".join(text.lower().split())
    return hashlib.blake2b(flat.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def _topics(prompts: Sequence[Prompt], embedder: Embedder, wanted: int) -> list[str]:
    count = min(_MAX_TOPICS, max(1, wanted), len(prompts))
    try:
        kmeans_clustering = embeddings.import_wordllama("wordllama.algorithms").kmeans_clustering
    except ImportError:  # no clustering: the conversation's title says what it is about
        return [_name([p.title or p.text]) for p in prompts]
    if count < 2:
        return [_name([p.text for p in prompts])] * len(prompts)
    vectors = embedder.embed([p.text for p in prompts])
    logging.getLogger("kmeans_logger").setLevel(logging.WARNING)  # it logs every pass at INFO
    state = np.random.RandomState(0)
    labels, _inertia = kmeans_clustering(vectors, count, n_init=1, random_state=state)
    members: dict[int, list[str]] = {}
    for prompt, label in zip(prompts, labels, strict=True):
        members.setdefault(int(label), []).append(prompt.text)
    names = {label: _name(texts) for label, texts in members.items()}
    return [names[int(label)] for label in labels]


def _name(texts: Sequence[str]) -> str:
    """The commonest longer word of these texts (ties: alphabetical)."""
    counts = Counter(
        word for text in texts for word in {w.lower() for w in _WORD.findall(text)} - _COMMON
    )
    if not counts:
        return "misc"
    return str(min(counts, key=lambda w: (-counts[w], w)))


def pick(
    archive: Archive,
    embedder: Embedder,
    size: int,
    *,
    query: str | None = None,
    conversations: Sequence[str] = (),
    pins: Sequence[Message] = (),
    seed: int = 0,
) -> list[Case]:
    """The cases to rehearse: pins, then ``size`` representative prompts in all."""
    prompts = find_prompts(
        archive, query=query, conversations=conversations, seed=seed, pool=max(POOL, 4 * size)
    )
    known = {p.message_id for p in prompts}
    for message in pins:
        if message.id is not None and message.id not in known:
            prompts.append(Prompt(message.id, _cid(archive, message), message.text, None))
    if not prompts:
        raise FreeholdError(
            "no past prompt with an answer to rehearse"
            + (" matches those filters" if query or conversations else " in the archive")
            + " — import an export first, or widen --query/--conversation"
        )
    described = describe(prompts, embedder, size // 2)
    by_key = {p.key: (p, c) for p, c in zip(prompts, described, strict=True)}
    pinned = [f"m{m.id}" for m in pins]
    chosen = sample(described, size, pinned=pinned, seed=seed)
    return [_case(archive, n, *by_key[c.key], c.key in pinned) for n, c in enumerate(chosen)]


def _cid(archive: Archive, message: Message) -> str:
    row = archive.db.execute("SELECT conversation_id FROM messages WHERE id=?", (message.id,))
    return str(row.fetchone()[0])


def _case(
    archive: Archive, position: int, prompt: Prompt, candidate: Candidate, pinned: bool
) -> Case:
    conv = archive.get_conversation(prompt.conversation_id)
    message = next(m for m in conv.messages if m.id == prompt.message_id)
    answer, model = original_answer(conv, message)
    names = ("topic", "length", "language", "code")
    return Case(
        position=position,
        message_id=prompt.message_id,
        conversation_id=conv.id or prompt.conversation_id,
        title=conv.title,
        prompt=message.text,
        original=answer,
        original_model=model,
        strata=dict(zip(names, candidate.strata, strict=True)),
        pinned=pinned,
        path=carry.path(conv, message),
        conversation=conv,
    )


def original_answer(conv: Conversation, prompt: Message) -> tuple[str, str | None]:
    """The shown assistant text that followed ``prompt`` up to the next prompt (following the
    visible branch where there is one), and the model that wrote it."""
    children: dict[str, list[Message]] = {}
    for message in conv.messages:
        children.setdefault(message.parent_source_id or "", []).append(message)
    texts: list[str] = []
    model: str | None = None
    node, seen = prompt, {prompt.source_id}
    while kids := children.get(node.source_id):
        node = next((k for k in kids if k.on_visible_path), kids[-1])
        if node.role == "user" or node.source_id in seen:
            break
        seen.add(node.source_id)
        if node.role == "assistant" and not node.hidden and node.text.strip():
            texts.append(without_citation_marks(node.text).strip())
            model = node.model or model
    return "\n\n".join(texts), model
