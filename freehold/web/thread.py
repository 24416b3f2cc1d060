"""Which path through a conversation's tree the page shows, and the forks along it.

A page shows one root-to-leaf path. By default that is the visible path (what the person saw
last); ``?at=<message id>`` asks for the path through that message instead, continued down to a
leaf by the same rule a chat app uses: the child on the visible path if there is one, else the
newest child. Every message on the path whose parent has several children carries a ``Fork``:
its place among its siblings (``2/3``) and the messages the ``<`` and ``>`` arrows lead to.
"""

from __future__ import annotations

from dataclasses import dataclass

from freehold.models import Message

__all__ = ["Fork", "Step", "choose_path"]


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


def _order(message: Message) -> tuple[float, int]:
    return (message.created_at or 0.0, message.id or 0)


def choose_path(messages: list[Message], at: int | None = None) -> list[Step]:
    """The path through message ``at`` (or the visible path), root first, with its forks."""
    by_id: dict[int | None, Message] = {m.id: m for m in messages if m.id is not None}
    children: dict[int | None, list[Message]] = {}
    for message in messages:
        parent = message.parent_id if message.parent_id in by_id else None
        children.setdefault(parent, []).append(message)
    for siblings in children.values():
        siblings.sort(key=_order)
    start = by_id.get(at) if at is not None else None
    if start is None:
        start = _descend(children, None)
    if start is None:
        return []
    path = _ancestors(by_id, start)
    tail = start.id
    while (child := _descend(children, tail)) is not None:
        path.append(child)
        tail = child.id
    return [Step(m, _fork(children, by_id, m)) for m in path]


def _descend(children: dict[int | None, list[Message]], parent: int | None) -> Message | None:
    kids = children.get(parent)
    if not kids:
        return None
    visible = [kid for kid in kids if kid.on_visible_path]
    return visible[-1] if visible else kids[-1]


def _ancestors(by_id: dict[int | None, Message], message: Message) -> list[Message]:
    path = [message]
    seen = {message.id}
    while (parent := by_id.get(path[-1].parent_id)) is not None and parent.id not in seen:
        seen.add(parent.id)
        path.append(parent)
    path.reverse()
    return path


def _fork(
    children: dict[int | None, list[Message]], by_id: dict[int | None, Message], message: Message
) -> Fork | None:
    parent = message.parent_id if message.parent_id in by_id else None
    siblings = children.get(parent, [])
    if len(siblings) < 2:
        return None
    index = next(i for i, sibling in enumerate(siblings) if sibling is message)
    previous = siblings[index - 1].id if index > 0 else None
    following = siblings[index + 1].id if index + 1 < len(siblings) else None
    return Fork(index + 1, len(siblings), previous, following)
