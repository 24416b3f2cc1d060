"""Which path through a conversation's tree the page shows, and the forks along it.

A page shows one path from a root. By default that is the visible path (what the person saw
last), which ends at the visible leaf (the export's current node) even when messages follow it:
those are another branch, as ``tree.branch_paths``, ``show``, the exports and the branch count
(``models.count_branches``) have it. ``?at=<message id>`` asks for the path through that
message instead; from a message off the visible path it goes on down to a leaf by the rule a
chat app uses: the child on the visible path if there is one, else the newest child. Every
message on the path whose parent has several children carries a ``Fork``: its place among its
siblings (``2/3``) and the messages the ``<`` and ``>`` arrows lead to. The visible leaf is a
fork of its own kind: where the path stops there, ``Step.more`` is the first message of what
follows (a link to that branch); where the path goes on past it, ``Step.passes`` says so (a
link back). Several roots are siblings too; a message without an id (never stored) cannot be
shown.

A message's earlier versions (``Message.revision_of``: words the platform changed, kept on
import) are no branch: the readers' one rule, ``tree.split_revisions`` (``reading_paths``), sets
them apart before the tree is walked, so none is a child, a sibling or a fork; each step carries
its message's (``Step.revisions``), which the page shows folded right after it.
``?at=<revision>`` shows the path through its message, with that revision open
(``Step.opened``).

An answer whose parent on the path is a prompt (an assistant message under a user message) can
be answered again — Regenerate, a new sibling under the same prompt: ``Step.again``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from freehold.models import Message
from freehold.tree import split_revisions

__all__ = ["Fork", "Step", "answers_prompt", "choose_path"]


@dataclass(slots=True)
class Fork:
    index: int
    count: int
    previous: int | None
    next: int | None


@dataclass(slots=True)
class Step:
    message: Message
    fork: Fork | None
    again: bool = False  # an answer to the prompt above it: Regenerate makes a sibling
    more: int | None = None  # the path stops here, at the visible leaf: what follows begins here
    passes: bool = False  # the visible leaf, which the path goes on past (into another branch)
    revisions: list[Message] = field(default_factory=list)  # its earlier versions, oldest first
    opened: int | None = None  # the revision ``?at=`` asked for, shown open


def _order(message: Message) -> tuple[float, int]:
    return (message.created_at or 0.0, message.id or 0)


def choose_path(messages: list[Message], at: int | None = None) -> list[Step]:
    """The path through message ``at`` (or the visible path), root first, with its forks;
    ``at`` a revision: the path through its message, with the revision opened."""
    tree, revisions = split_revisions(messages)
    by_id = {m.id: m for m in tree if m.id is not None}
    opened = _revision(messages, revisions, at)
    if opened is not None:
        at = opened[0]
    parents = _parents(by_id)
    children: dict[int | None, list[int]] = {}
    for mid in sorted(by_id, key=lambda i: _order(by_id[i])):
        children.setdefault(parents[mid], []).append(mid)
    start = at if at in by_id else _descend(children, by_id, None)
    if start is None:
        return []
    path = _ancestors(parents, start)
    while (child := _descend(children, by_id, path[-1])) is not None:
        path.append(child)
    steps = [
        Step(
            by_id[mid],
            _fork(children[parents[mid]], mid),
            answers_prompt(by_id[mid], by_id.get(parents[mid] or 0)),
            passes=_visible_leaf(children, by_id, mid) and mid != path[-1],
        )
        for mid in path
    ]
    following = children.get(path[-1])
    steps[-1].more = following[-1] if following else None
    for step in steps:
        step.revisions = revisions.get(step.message.source_id, [])
        if opened is not None and step.message.id == opened[0]:
            step.opened = opened[1]
    return steps


def _revision(
    messages: list[Message], revisions: dict[str, list[Message]], at: int | None
) -> tuple[int, int] | None:
    """(its message's id, ``at``) when ``at`` is a revision set apart, else None."""
    revision = next((m for kept in revisions.values() for m in kept if m.id == at), None)
    if revision is None or at is None:
        return None
    message = next(m for m in messages if m.source_id == revision.revision_of)
    return (message.id, at) if message.id is not None else None


def answers_prompt(message: Message, parent: Message | None) -> bool:
    """Whether ``message`` answers a prompt: Regenerate can give it a sibling."""
    return parent is not None and message.role == "assistant" and parent.role == "user"


def _parents(by_id: dict[int, Message]) -> dict[int, int | None]:
    """Each message's parent id, None for a root.

    A parent that is not there makes a root. So does closing a parent cycle: the archive never
    stores one (``tree.build_tree`` cuts them at import), but a page must not loop if it did.
    """
    parents = {i: m.parent_id if m.parent_id in by_id else None for i, m in by_id.items()}
    done: set[int] = set()
    for first in by_id:
        walk: dict[int, None] = {}  # ordered, and a fast "in"
        node: int | None = first
        while node is not None and node not in done and node not in walk:
            walk[node] = None
            node = parents[node]
        if node is not None and node in walk:
            parents[node] = None  # the walk came back to ``node``: cut the link there
        done.update(walk)
    return parents


def _descend(
    children: dict[int | None, list[int]], by_id: dict[int, Message], parent: int | None
) -> int | None:
    """The child a chat app would show: the one on the visible path, else the newest; none
    below the visible leaf (what follows it is another branch)."""
    kids = children.get(parent)
    if not kids or _visible_leaf(children, by_id, parent):
        return None
    visible = [kid for kid in kids if by_id[kid].on_visible_path]
    return visible[-1] if visible else kids[-1]


def _visible_leaf(
    children: dict[int | None, list[int]], by_id: dict[int, Message], mid: int | None
) -> bool:
    """Whether ``mid`` ends the visible path: on it, and none of its children is."""
    if mid is None or not by_id[mid].on_visible_path:
        return False
    return not any(by_id[kid].on_visible_path for kid in children.get(mid, ()))


def _ancestors(parents: dict[int, int | None], mid: int) -> list[int]:
    path = [mid]
    while (parent := parents[path[-1]]) is not None:
        path.append(parent)
    path.reverse()
    return path


def _fork(siblings: list[int], mid: int) -> Fork | None:
    if len(siblings) < 2:
        return None
    index = siblings.index(mid)
    previous = siblings[index - 1] if index > 0 else None
    following = siblings[index + 1] if index + 1 < len(siblings) else None
    return Fork(index + 1, len(siblings), previous, following)
