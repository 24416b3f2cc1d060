"""``Message.layout`` and ``Message.sources``: what every renderer shows of a message, in order."""

from __future__ import annotations

from hypothesis import given, settings

from freehold.models import AttachmentRef, Conversation, Message, count_branches
from freehold.tree import branch_paths, build_tree
from tests.test_tree import Graph, graphs


def test_layout_pairs_file_parts_with_their_files_and_keeps_the_rest_for_last() -> None:
    shown_ref = AttachmentRef("file-1", "photo.png", sha256="a" * 64)
    loose = AttachmentRef("file-2", "notes.pdf")
    parts = [
        {"type": "text", "text": "look"},
        {"type": "citation", "marker": "[1]", "url": "https://a.example/"},
        {"type": "image", "pointer": "file-1"},
        {"type": "audio", "pointer": "file-9", "name": "voice.wav"},
        {"type": "file"},  # no pointer: an ordinary part
        {"type": "image", "pointer": "file-1"},  # shown twice, the declared file both times
    ]
    message = Message(
        "m", None, "user", "multimodal_text", parts, "look", attachments=[shown_ref, loose]
    )
    shown, unused = message.layout()
    assert [part["type"] for part, _ in shown] == ["text", "image", "audio", "file", "image"]
    assert shown[0][1] is None and shown[1][1] is shown_ref
    assert shown[2][1] == AttachmentRef("file-9", "voice.wav") and shown[3][1] is None
    assert shown[4][1] is shown_ref
    assert unused == [loose]


def test_sources_are_each_cited_url_once_in_order() -> None:
    parts = [
        {"type": "citation", "url": "https://b.example/", "title": "B"},
        {"type": "text", "text": "x"},
        {"type": "citation", "url": "https://a.example/"},
        {"type": "citation", "url": "https://b.example/", "title": "B again"},
        {"type": "citation", "url": None, "title": "no url"},
    ]
    message = Message("m", None, "assistant", "text", parts, "x")
    assert message.sources() == {
        "https://b.example/": "B",
        "https://a.example/": "https://a.example/",
    }
    assert Message("n", None, "user", "text", [], "").layout() == ([], [])


# -- one branch count (issue 10, item 15) ----------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_a_branch_count_is_the_number_of_paths_a_reader_is_shown(graph: Graph) -> None:
    tree = build_tree(graph.messages, graph.current)
    conv = Conversation("chatgpt", "c", None, tree.messages, b"", current_leaf=tree.leaf)
    assert conv.branch_count == len(branch_paths(tree.messages))
    assert conv.message_count == len(tree.messages)


def test_a_fork_into_three_is_three_branches() -> None:
    def node(sid: str, parent: str | None) -> Message:
        return Message(sid, parent, "user", "text", [], "")

    nodes = [node("q", None), node("a1", "q"), node("a2", "q"), node("a3", "q")]
    tree = build_tree(nodes, "a2")
    conv = Conversation("chatgpt", "c", None, tree.messages, b"", current_leaf=tree.leaf)
    assert conv.branch_count == 3
    assert Conversation("chatgpt", "c", None, [], b"").branch_count == 0
    # the visible path may stop above a leaf: it is a branch of its own
    assert count_branches({"q": None, "a": "q"}, "q") == 2
