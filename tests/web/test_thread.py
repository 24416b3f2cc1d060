"""``thread.choose_path`` on random message trees (and graphs no import would store)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from hypothesis import given, settings
from hypothesis import strategies as st

from freehold.models import Message
from freehold.web.thread import Step, choose_path

MISSING = range(5000, 5010)  # parent ids that no message has


def message(mid: int, parent: int | None, created: float | None, visible: bool) -> Message:
    return Message(
        source_id=str(mid),
        parent_source_id=None,
        role="user",
        content_type="text",
        parts=[],
        text=f"message {mid}",
        created_at=created,
        on_visible_path=visible,
        id=mid,
        parent_id=parent,
    )


@st.composite
def forests(draw: st.DrawFn) -> list[Message]:
    """Messages whose parent is an earlier message, none, or one that is not there."""
    ids = draw(st.lists(st.integers(1, 999), unique=True, max_size=25))
    messages = []
    for n, mid in enumerate(ids):
        choices = [st.none(), st.sampled_from(MISSING)]
        if n:
            choices.append(st.sampled_from(ids[:n]))
        parent = draw(st.one_of(*choices))
        created = draw(st.none() | st.sampled_from([1.0, 2.0, 3.0, 1e9]))  # ties happen
        messages.append(message(mid, parent, created, draw(st.booleans())))
    return draw(st.permutations(messages))


@st.composite
def graphs(draw: st.DrawFn) -> list[Message]:
    """Any parent links at all: to itself, in cycles, missing."""
    ids = draw(st.lists(st.integers(1, 999), unique=True, max_size=25))
    pool = st.sampled_from([*ids, *MISSING]) if ids else st.sampled_from(MISSING)
    return [
        message(
            mid, draw(st.none() | pool), draw(st.none() | st.floats(0, 10)), draw(st.booleans())
        )
        for mid in ids
    ]


def ats(messages: list[Message]) -> st.SearchStrategy[int | None]:
    return st.none() | st.sampled_from([*(m.id or 0 for m in messages), 4999])


def ids(steps: Iterable[Step]) -> list[int | None]:
    return [step.message.id for step in steps]


def reachable(messages: list[Message]) -> set[int | None]:
    """Every message on a path reachable from the default one by following forks."""
    seen: set[int | None] = set()
    queue: list[int | None] = [None]
    visited_at: set[int | None] = set()
    while queue:
        at = queue.pop()
        if at in visited_at:
            continue
        visited_at.add(at)
        for step in choose_path(messages, at):
            seen.add(step.message.id)
            if step.fork is not None:
                queue += [step.fork.previous, step.fork.next]
            queue.append(step.more)
    return seen


def check_forks(
    messages: list[Message], steps: list[Step], parent: dict[int | None, int | None]
) -> None:
    """Each fork's arrows lead to siblings, in order, and its count is the number of siblings."""
    by_id = {m.id: m for m in messages}
    for step in steps:
        mid = step.message.id
        assert mid is not None
        siblings = [m for m in messages if m.id is not None and parent[m.id] == parent[mid]]
        if len(siblings) < 2:
            assert step.fork is None
            continue
        fork = step.fork
        assert fork is not None and fork.count == len(siblings) and 1 <= fork.index <= fork.count
        assert (fork.previous is None) == (fork.index == 1)
        assert (fork.next is None) == (fork.index == fork.count)
        for other in (fork.previous, fork.next):
            if other is not None:
                assert parent[other] == parent[mid] and other != mid
        key = lambda m: (m.created_at or 0.0, m.id)  # noqa: E731
        if fork.previous is not None:
            assert key(by_id[fork.previous]) < key(step.message)
        if fork.next is not None:
            assert key(step.message) < key(by_id[fork.next])


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_forest_paths_run_root_to_leaf(data: st.DataObject) -> None:
    messages = data.draw(forests())
    at = data.draw(ats(messages))
    known = {m.id for m in messages}
    key = {m.id: (m.created_at or 0.0, m.id) for m in messages}
    parent: dict[int | None, int | None] = {
        m.id: m.parent_id if m.parent_id in known else None for m in messages
    }
    steps = choose_path(messages, at)
    path = ids(steps)
    assert bool(path) == bool(messages)
    if not path:
        return
    assert len(set(path)) == len(path)
    assert parent[path[0]] is None
    for above, below in itertools.pairwise(path):
        assert parent[below] == above
    followers = [m.id for m in messages if parent[m.id] == path[-1]]
    assert steps[-1].more == (max(followers, key=lambda i: key[i]) if followers else None)
    if followers:  # only the visible path stops at a message with followers
        assert steps[-1].message.on_visible_path
    if at in known:
        assert at in path
    check_forks(messages, steps, parent)


@settings(max_examples=150, deadline=None)
@given(forests())
def test_following_every_fork_reaches_every_message(messages: list[Message]) -> None:
    assert reachable(messages) == {m.id for m in messages}


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_parent_links_end_in_a_chain(data: st.DataObject) -> None:
    messages = data.draw(graphs())
    at = data.draw(ats(messages))
    steps = choose_path(messages, at)
    path = ids(steps)
    assert bool(path) == bool(messages)
    assert len(set(path)) == len(path)  # no message twice: a cycle was cut, not followed
    by_id = {m.id: m for m in messages}
    for above, below in itertools.pairwise(path):
        assert by_id[below].parent_id == above
    if at in by_id:
        assert at in path
    assert reachable(messages) == set(by_id)


def test_a_message_that_is_its_own_parent() -> None:
    alone = [message(1, 1, None, True)]
    assert ids(choose_path(alone)) == [1]
    pair = [message(1, 2, 1.0, False), message(2, 1, 2.0, True)]
    assert sorted(ids(choose_path(pair))) == [1, 2]


def test_visible_path_and_branch_switch() -> None:
    #   1 ─ 2 ─ 3 (visible)
    #       └── 4 ─ 5
    messages = [
        message(1, None, 1.0, True),
        message(2, 1, 2.0, True),
        message(3, 2, 3.0, True),
        message(4, 2, 4.0, False),
        message(5, 4, 5.0, False),
    ]
    default = choose_path(messages)
    assert ids(default) == [1, 2, 3]
    fork = default[2].fork
    assert fork is not None and (fork.index, fork.count, fork.previous, fork.next) == (
        1,
        2,
        None,
        4,
    )
    other = choose_path(messages, 4)
    assert ids(other) == [1, 2, 4, 5]
    fork = other[2].fork
    assert fork is not None and (fork.index, fork.previous, fork.next) == (2, 3, None)
    assert ids(choose_path(messages, 5)) == [1, 2, 4, 5]
    assert ids(choose_path(messages, 99)) == [1, 2, 3]  # unknown: the visible path


def test_the_visible_path_ends_at_the_visible_leaf() -> None:
    """Probe K, item 3: the page ran on past the visible leaf (``current_node``) to the newest
    child, and hid that those messages are another branch (``tree.branch_paths``)."""
    #   1 ─ 2 (visible leaf) ─ 3 ─ 4
    messages = [
        message(1, None, 1.0, True),
        message(2, 1, 2.0, True),
        message(3, 2, 3.0, False),
        message(4, 3, 4.0, False),
    ]
    default = choose_path(messages)
    assert ids(default) == [1, 2] and default[-1].more == 3
    assert ids(choose_path(messages, 1)) == [1, 2]  # a visible message: the visible path
    beyond = choose_path(messages, 3)
    assert ids(beyond) == [1, 2, 3, 4]
    assert [step.passes for step in beyond] == [False, True, False, False]
    assert all(step.more is None for step in beyond)


def test_newest_child_when_none_is_visible() -> None:
    messages = [message(1, None, 1.0, False), message(2, 1, 9.0, False), message(3, 1, 5.0, False)]
    assert ids(choose_path(messages)) == [1, 2]


def test_messages_without_ids_are_left_out() -> None:
    unsaved = message(1, None, 1.0, True)
    unsaved.id = None
    assert choose_path([unsaved]) == []
    assert choose_path([]) == []
