"""Conversation trees as exports give them, made whole.

Exports describe a tree by parent links (ChatGPT's ``mapping``, Claude's ``parent_message_uuid``)
and are often damaged: parents that are not there, parent cycles, several roots, a current node
that points nowhere. ``build_tree`` repairs all of it without dropping a node: orphans become
roots, a cycle is cut at the node that closes it, a dangling current node falls back to the
newest leaf, and a message whose id an earlier one holds is kept under ``<id>#2`` (``#3``…, or
the name its format gave such a message before; ``unique_ids``, the one rule for every
importer: a link to the id means the first). Each repair
is reported as a problem string. The result lists parents before children (siblings oldest
first; siblings of the same or no time in the export's order) and marks the visible path
(current leaf up to its root).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from freehold.models import Message

__all__ = [
    "Rename",
    "Tree",
    "branch_paths",
    "build_tree",
    "reading_paths",
    "split_revisions",
    "unique_ids",
    "unique_names",
]


class Tree:
    """Messages in parent-first order, the chosen leaf and what had to be repaired."""

    __slots__ = ("leaf", "messages", "problems")

    def __init__(self, messages: list[Message], leaf: str | None, problems: list[str]) -> None:
        self.messages = messages
        self.leaf = leaf
        self.problems = problems


def build_tree(messages: Sequence[Message], current_leaf: str | None) -> Tree:
    """Order ``messages`` parents-first, repair the links and mark the visible path."""
    problems: list[str] = []
    by_id = _unique(messages, problems)
    _cut_orphans_and_cycles(by_id, problems)
    ordered = _parents_first(by_id)
    leaf = _choose_leaf(by_id, ordered, current_leaf, problems)
    node = by_id.get(leaf) if leaf is not None else None
    while node is not None:
        node.on_visible_path = True
        node = by_id.get(node.parent_source_id) if node.parent_source_id is not None else None
    return Tree(ordered, leaf, problems)


def _unique(messages: Sequence[Message], problems: list[str]) -> dict[str, Message]:
    unique_ids(messages, problems)
    by_id: dict[str, Message] = {}
    for message in messages:
        message.on_visible_path = False
        by_id[message.source_id] = message
    return by_id


Rename = Callable[[int], str]  # a format's own name for the duplicate at a position


def unique_ids(
    messages: Sequence[Message],
    problems: list[str],
    noun: str = "message",
    rename: Rename | None = None,
) -> None:
    """Give each message whose id an earlier one holds another (``unique_names``), and say so.
    Run before a linear conversation is linked (``_skeleton.linear``), so that each link names
    the message meant; ``build_tree`` runs it again, finding nothing to do."""
    names = unique_names([m.source_id for m in messages], problems, noun, rename=rename)
    for message, name in zip(messages, names, strict=True):
        message.source_id = name


def unique_names(
    ids: Sequence[str],
    problems: list[str],
    noun: str = "message",
    earlier: Iterable[str] = (),
    rename: Rename | None = None,
) -> list[str]:
    """``ids`` with each one an earlier id (or one of ``earlier``) holds renamed: the name
    ``rename`` gives its position, when no id holds it, else the first free ``<id>#2``, ``#3``…

    ``rename`` is a format's own name for a duplicate, the one it gave before this rule was
    shared (Mistral's ``message-<index>``, Grok's ``response-<index>``, AI Studio's
    ``chunk-<index>``): a stored message keeps its id across versions, so converting it again
    never stores it a second time."""
    seen = set(earlier)
    taken = seen | set(ids)
    names: list[str] = []
    for position, given in enumerate(ids):
        name = given
        if given in seen:
            name = rename(position) if rename is not None else given
            number = 2
            while name in taken:
                name = f"{given}#{number}"
                number += 1
            taken.add(name)
            problems.append(f"{noun} {given} appears twice; kept as {name}")
        seen.add(name)
        names.append(name)
    return names


def _cut_orphans_and_cycles(by_id: dict[str, Message], problems: list[str]) -> None:
    done: set[str] = set()
    for start in by_id:
        path: list[str] = []
        on_path: set[str] = set()
        current: str | None = start
        while current is not None and current not in done:
            if current in on_path:
                by_id[current].parent_source_id = None
                problems.append(f"parent cycle through message {current}; cut there")
                break
            path.append(current)
            on_path.add(current)
            parent = by_id[current].parent_source_id
            if parent is not None and parent not in by_id:
                by_id[current].parent_source_id = None
                problems.append(f"message {current} points at missing parent {parent}")
                parent = None
            current = parent
        done.update(path)


def _sort_key(message: Message) -> float:
    return message.created_at if message.created_at is not None else float("-inf")


def _parents_first(by_id: dict[str, Message]) -> list[Message]:
    children: dict[str | None, list[Message]] = {}
    for message in by_id.values():
        children.setdefault(message.parent_source_id, []).append(message)
    ordered: list[Message] = []
    # Oldest on top of the stack; a stable sort keeps ties (no times) in the export's order.
    stack = sorted(children.get(None, []), key=_sort_key)[::-1]
    while stack:
        message = stack.pop()
        ordered.append(message)
        kids = children.get(message.source_id)
        if kids:
            stack.extend(sorted(kids, key=_sort_key)[::-1])
    return ordered


def _choose_leaf(
    by_id: dict[str, Message],
    ordered: list[Message],
    current_leaf: str | None,
    problems: list[str],
) -> str | None:
    if current_leaf is not None and current_leaf in by_id:
        return current_leaf
    if not ordered:
        return None
    if current_leaf is not None:
        problems.append(f"current node {current_leaf} is not in the tree; newest leaf shown")
    parents = {m.parent_source_id for m in ordered}
    leaves = [m for m in ordered if m.source_id not in parents]
    return max(reversed(leaves), key=_sort_key).source_id  # of equal times, the last written


def branch_paths(messages: Sequence[Message]) -> list[list[Message]]:
    """Split a stored tree into the visible path and one segment per other leaf.

    The first list is the visible path (root to current leaf). Each further list starts at the
    first message that no earlier list holds and runs down to a leaf, so every message appears
    exactly once; ``segment[0].parent_source_id`` names the fork it hangs from.
    """
    children: dict[str | None, list[Message]] = {}
    for message in messages:
        children.setdefault(message.parent_source_id, []).append(message)
    visible = [m for m in messages if m.on_visible_path]
    paths = [visible] if visible else []
    placed = {m.source_id for m in visible}
    for message in messages:
        if message.source_id in placed:
            continue
        segment = [message]
        placed.add(message.source_id)
        kids = children.get(message.source_id)
        while kids:
            nxt = max(kids, key=_sort_key)
            if nxt.source_id in placed:
                break
            segment.append(nxt)
            placed.add(nxt.source_id)
            kids = children.get(nxt.source_id)
        paths.append(segment)
    return paths


def reading_paths(
    messages: Sequence[Message],
) -> tuple[list[list[Message]], dict[str, list[Message]]]:
    """``branch_paths`` as a reader sees them: without revisions (``Message.revision_of``),
    which are earlier words of one message, not branches; and those revisions by the source
    id of their message, in the conversation's order, to be shown beside it. A revision whose
    message is not there stays in the paths (nothing is left out)."""
    rest, revisions = split_revisions(messages)
    return branch_paths(rest), revisions


def split_revisions(
    messages: Sequence[Message],
) -> tuple[list[Message], dict[str, list[Message]]]:
    """The readers' one rule (``reading_paths``, the web page's ``thread.choose_path``): the
    messages that make the tree, and apart from them the revisions (``Message.revision_of``)
    by the source id of their message, in the conversation's order. A revision whose message
    is not there stays among the messages."""
    ids = {m.source_id for m in messages}
    revisions: dict[str, list[Message]] = {}
    rest: list[Message] = []
    for message in messages:
        of = message.revision_of
        if of is not None and of in ids:
            revisions.setdefault(of, []).append(message)
        else:
            rest.append(message)
    return rest, revisions
