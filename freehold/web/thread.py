"""Which path through a conversation's tree the page shows, and the forks along it.

A page shows one root-to-leaf path. By default that is the visible path (what the person saw
last); ``?at=<message id>`` asks for the path through that message instead, continued down to a
leaf by the same rule a chat app uses: the child on the visible path if there is one, else the
newest child. Every message on the path whose parent has several children carries a ``Fork``:
its place among its siblings (``2/3``) and the messages the ``<`` and ``>`` arrows lead to.
Several roots are siblings too; a message without an id (never stored) cannot be shown.

An answer whose parent on the path is a prompt (an assistant message under a user message) can
be answered again — Regenerate, a new sibling under the same prompt: ``Step.again``.
"""

from __future__ import annotations

from dataclasses import dataclass

from freehold.models import Message

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


def _order(message: Message) -> tuple[float, int]:
    return (message.created_at or 0.0, message.id or 0)


def choose_path(messages: list[Message], at: int | None = None) -> list[Step]:
    """The path through message ``at`` (or the visible path), root first, with its forks."""
    by_id = {m.id: m for m in messages if m.id is not None}
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
    return [
        Step(
            by_id[mid],
            _fork(children[parents[mid]], mid),
            answers_prompt(by_id[mid], by_id.get(parents[mid] or 0)),
        )
        for mid in path
    ]


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
    """The child a chat app would show: the one on the visible path, else the newest."""
    kids = children.get(parent)
    if not kids:
        return None
    visible = [kid for kid in kids if by_id[kid].on_visible_path]
    return visible[-1] if visible else kids[-1]


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
