"""build_tree and branch_paths over arbitrary, damaged parent-link graphs."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from freehold.models import Message
from freehold.tree import branch_paths, build_tree, unique_ids, unique_names

_IDS = [f"n{i}" for i in range(8)]
_MISSING = ["gone", "x9"]


@dataclass
class Graph:
    messages: list[Message]
    current: str | None


def message(source_id: str, parent: str | None, created: float | None = None) -> Message:
    return Message(source_id, parent, "user", "text", [], "", created_at=created)


@st.composite
def graphs(draw: st.DrawFn) -> Graph:
    """Random parent links: cycles, self-loops, orphans, several roots, duplicate ids."""
    ids = draw(st.lists(st.sampled_from(_IDS), max_size=12))
    targets = st.sampled_from([None, *_IDS, *_MISSING])
    times = st.none() | st.floats(0, 100, allow_nan=False)
    messages = [message(i, draw(targets), draw(times)) for i in ids]
    current = draw(st.sampled_from([None, *_MISSING, *ids]))
    return Graph(messages, current)


def first_occurrences(messages: list[Message]) -> dict[str, Message]:
    seen: dict[str, Message] = {}
    for m in messages:
        seen.setdefault(m.source_id, m)
    return seen


def is_clean_forest(unique: dict[str, Message]) -> bool:
    """No missing parents and no cycles: nothing should be repaired."""
    for start in unique:
        seen: set[str] = set()
        node: str | None = start
        while node is not None:
            if node in seen or node not in unique:
                return False
            seen.add(node)
            node = unique[node].parent_source_id
    return True


def chain_to_root(by_id: dict[str, Message], leaf: str) -> list[str]:
    path = [leaf]
    while (parent := by_id[path[-1]].parent_source_id) is not None:
        path.append(parent)
    return path[::-1]


@settings(max_examples=200, deadline=None)
@given(graphs())
def test_build_tree_keeps_every_node_once(graph: Graph) -> None:
    """Every message is kept, one whose id an earlier one holds under ``<id>#2`` (``#3``…)."""
    given = [m.source_id for m in graph.messages]
    tree = build_tree(graph.messages, graph.current)
    assert len(tree.messages) == len(given)
    assert len({m.source_id for m in tree.messages}) == len(given)
    assert {m.source_id.partition("#")[0] for m in tree.messages} == set(given)
    duplicates = len(given) - len(set(given))
    assert sum("appears twice" in p for p in tree.problems) == duplicates


def test_a_duplicate_id_is_kept_renamed_and_links_mean_the_first() -> None:
    """Claude, Open WebUI and LibreChat trees kept the first of two messages with one id and
    dropped the second, off the visible path; AI Studio and Grok renamed it. One rule now."""
    messages = [message("a", None, 1), message("b", "a", 2), message("a", "b", 3)]
    tree = build_tree(messages, "a")
    assert [(m.source_id, m.parent_source_id) for m in tree.messages] == [
        ("a", None),
        ("b", "a"),
        ("a#2", "b"),
    ]
    assert tree.leaf == "a" and tree.problems == ["message a appears twice; kept as a#2"]


def test_a_format_names_its_duplicates_as_it_did_before_unless_an_id_holds_the_name() -> None:
    """Mistral, Grok and AI Studio keep the ids they gave a duplicate (stable across versions);
    a name some message holds already falls back to ``<id>#2``."""
    problems: list[str] = []
    own = unique_names(["a", "b", "a", "a"], problems, rename=lambda at: f"message-{at}")
    assert own == ["a", "b", "message-2", "message-3"]
    held = unique_names(["a", "message-1", "a"], [], rename=lambda at: f"message-{at - 1}")
    assert held == ["a", "message-1", "a#2"]
    assert problems == [
        "message a appears twice; kept as message-2",
        "message a appears twice; kept as message-3",
    ]


@settings(max_examples=200, deadline=None)
@given(graphs())
def test_build_tree_is_parents_first_and_only_cuts_links(graph: Graph) -> None:
    unique_ids(graph.messages, [])
    unique = first_occurrences(graph.messages)
    original = {sid: m.parent_source_id for sid, m in unique.items()}
    clean = is_clean_forest(unique)
    tree = build_tree(graph.messages, graph.current)
    position = {m.source_id: i for i, m in enumerate(tree.messages)}
    for m in tree.messages:
        assert m.parent_source_id in (None, original[m.source_id])
        if m.parent_source_id is not None:
            assert position[m.parent_source_id] < position[m.source_id]
    if clean:
        assert {m.source_id: m.parent_source_id for m in tree.messages} == original
        assert not any("cycle" in p or "missing parent" in p for p in tree.problems)
    else:
        assert any("cycle" in p or "missing parent" in p for p in tree.problems)


@settings(max_examples=200, deadline=None)
@given(graphs())
def test_exactly_one_visible_path_to_the_chosen_leaf(graph: Graph) -> None:
    present = set(first_occurrences(graph.messages))
    tree = build_tree(graph.messages, graph.current)
    if not tree.messages:
        assert tree.leaf is None
        return
    by_id = {m.source_id: m for m in tree.messages}
    if graph.current in present:
        assert tree.leaf == graph.current
    else:
        parents = {m.parent_source_id for m in tree.messages}
        leaves = [m for m in tree.messages if m.source_id not in parents]
        assert tree.leaf in {m.source_id for m in leaves}
        newest = max((m.created_at for m in leaves if m.created_at is not None), default=None)
        if newest is not None:
            assert by_id[tree.leaf].created_at == newest
    assert tree.leaf is not None
    path = chain_to_root(by_id, tree.leaf)
    visible = [m.source_id for m in tree.messages if m.on_visible_path]
    assert visible == path


@settings(max_examples=200, deadline=None)
@given(graphs())
def test_branch_paths_cover_every_message_once(graph: Graph) -> None:
    tree = build_tree(graph.messages, graph.current)
    paths = branch_paths(tree.messages)
    flat = [m.source_id for path in paths for m in path]
    assert sorted(flat) == sorted(m.source_id for m in tree.messages)
    if tree.messages:
        by_id = {m.source_id: m for m in tree.messages}
        assert tree.leaf is not None
        assert [m.source_id for m in paths[0]] == chain_to_root(by_id, tree.leaf)
    placed: set[str] = set()
    for path in paths:
        first = path[0].parent_source_id
        assert first is None or first in placed
        for parent, child in pairwise(path):
            assert child.parent_source_id == parent.source_id
        placed.update(m.source_id for m in path)


def test_cycle_is_cut_and_reported() -> None:
    messages = [message("a", "c", 1), message("b", "a", 2), message("c", "b", 3)]
    tree = build_tree(messages, "c")
    roots = [m.source_id for m in tree.messages if m.parent_source_id is None]
    assert len(roots) == 1
    assert [m.source_id for m in tree.messages if m.on_visible_path][-1] == "c"
    assert any("cycle" in p for p in tree.problems)


def test_self_loop_and_orphan_become_roots() -> None:
    messages = [message("a", "a", 1), message("b", "nowhere", 2)]
    tree = build_tree(messages, None)
    assert {m.source_id: m.parent_source_id for m in tree.messages} == {"a": None, "b": None}
    assert tree.leaf == "b"
    assert len(tree.problems) == 2


def test_dangling_current_node_falls_back_to_the_newest_leaf() -> None:
    messages = [message("r", None, 1), message("x", "r", 5), message("y", "r", 9)]
    tree = build_tree(messages, "deleted-node")
    assert tree.leaf == "y"
    assert [m.source_id for m in tree.messages if m.on_visible_path] == ["r", "y"]
    assert any("deleted-node" in p for p in tree.problems)


def test_current_node_may_be_an_inner_node() -> None:
    messages = [message("r", None, 1), message("x", "r", 5), message("y", "x", 9)]
    tree = build_tree(messages, "x")
    assert tree.leaf == "x"
    assert [m.source_id for m in tree.messages if m.on_visible_path] == ["r", "x"]
    paths = branch_paths(tree.messages)
    assert [[m.source_id for m in p] for p in paths] == [["r", "x"], ["y"]]


def test_siblings_of_equal_or_no_time_keep_the_export_order() -> None:
    messages = [message("r", None), message("a", "r"), message("b", "r"), message("c", "r", 1)]
    messages += [message("a1", "a"), message("a2", "a")]
    tree = build_tree(messages, None)
    assert [m.source_id for m in tree.messages] == ["r", "a", "a1", "a2", "b", "c"]
    assert tree.leaf == "c"  # the newest leaf; of equal times, the last one
    untimed = build_tree([*messages[:-1], message("c", "r")], None)
    assert untimed.leaf == "c"
