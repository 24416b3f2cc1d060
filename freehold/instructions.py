"""The instructions a conversation ran under: its system prompt, one rule for every reader.

``system_prompt(conversation, path)`` is the text ``freehold chat`` sends as the system prompt
when it carries a conversation on (``carry``), the Open WebUI export's ``chat.params.system``
and the JSONL export's leading system message, so the three never disagree. ``path`` is the
branch it is for, root first: the path carried, the visible path, or one line's branch. In
this order, each text once:

1. the text of the path's system messages, as the source had them (AI Studio's system
   instruction, a system prompt of ChatGPT's); a system message written here
   (``chat --profile``/``--system``, ``origin`` set) is the person's choice for one turn, not
   what the conversation brought: ``worn_prompt`` adds it, last, for ``carry`` and the Open
   WebUI export; the JSONL export keeps it where it was said;
2. the custom instructions that messages of the path carry as ``context`` parts: ChatGPT's pair
   as "What the user wants you to know about them:" and "How the user wants you to respond:",
   and a ``system_content``'s ``instructions`` (a memory snapshot instructs nothing);
3. the conversation's instruction records (``INSTRUCTION_KINDS``) that no message of the path
   already said: its own (Open WebUI's ``params.system``, LibreChat's ``promptPrefix``, a Claude
   project's instructions), and one whose message is on the path but said it in no part
   (ChatGPT's late-2023 instructions sit in a system message's metadata). A record a message
   of another branch carries belongs to that branch.

The model answered every message of the path with these in force, so whoever carries the
conversation on or trains on it needs them. Which records are *shown* apart from the thread
is another question, answered by ``Conversation.own_context``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from freehold.models import INSTRUCTION_KINDS, Conversation, Message, without_citation_marks

__all__ = ["instructs", "system_prompt", "worn_prompt"]

_ABOUT_USER = "What the user wants you to know about them:\n"
_ABOUT_MODEL = "How the user wants you to respond:\n"


def system_prompt(conversation: Conversation | None, path: Sequence[Message]) -> str:
    """The system prompt ``path`` of ``conversation`` ran under ("" when none); see above."""
    system: list[str] = []
    instructions: list[str] = []
    said: set[str] = set()  # messages whose parts gave instructions: their records are said
    for message in path:
        if message.origin:
            continue  # written here: the person's own choice, not the conversation's
        if message.role == "system":
            system.extend(_texts(message))
        found = [text for part in message.parts for text in _context(part)]
        if found:
            said.add(message.source_id)
            instructions.extend(found)
    if conversation is not None:
        instructions.extend(_records(conversation, path, said))
    return "\n\n".join(dict.fromkeys(t for t in [*system, *instructions] if t))


def worn_prompt(conversation: Conversation | None, path: Sequence[Message]) -> str:
    """``system_prompt`` and then the system messages written here on ``path``
    (``chat --profile``/``--system``): the person's own choice last, so it wins over what the
    conversation brought. What ``carry`` sends and the Open WebUI export's ``params.system``
    (Open WebUI sends it with every new turn, as carrying on here does); the JSONL export
    keeps such a message where it was said instead."""
    chosen = [text for m in path if m.origin and m.role == "system" for text in _texts(m)]
    texts = [system_prompt(conversation, path), *chosen]
    return "\n\n".join(text for text in texts if text).strip()


def instructs(message: Message) -> bool:
    """Whether ``system_prompt`` says what ``message`` holds (a source's system message with
    text, a message of custom instructions): an export that writes the prompt carries it."""
    if message.origin:
        return False
    if message.role == "system" and any(_texts(message)):
        return True
    return any(_context(part) for part in message.parts)


def _texts(message: Message) -> Iterator[str]:
    for part in message.parts:
        if part.get("type") == "text" and str(part.get("text") or "").strip():
            yield without_citation_marks(str(part["text"])).strip()


def _context(part: Mapping[str, Any]) -> list[str]:
    """A ``context`` part's instructions, labelled; nothing for a memory snapshot."""
    if part.get("type") != "context":
        return []
    return _labelled(part)


def _labelled(fields: Mapping[str, Any]) -> list[str]:
    about_user, about_model, told = (
        fields.get(key) for key in ("about_user", "about_model", "instructions")
    )
    found = []
    if isinstance(about_user, str) and about_user.strip():
        found.append(_ABOUT_USER + about_user.strip())
    if isinstance(about_model, str) and about_model.strip():
        found.append(_ABOUT_MODEL + about_model.strip())
    if isinstance(told, str) and told.strip():
        found.append(told.strip())
    return found


def _records(conversation: Conversation, path: Sequence[Message], said: set[str]) -> Iterator[str]:
    everywhere = {m.source_id for m in conversation.messages}
    on_path = {m.source_id for m in path}
    for record in conversation.context:
        where = record.message_source_id
        if record.kind not in INSTRUCTION_KINDS or not record.text.strip():
            continue
        if where in everywhere and (where not in on_path or where in said):
            continue  # another branch's, or its message's parts said it already
        # ChatGPT's pair reads the same from a record as from a part
        yield "\n\n".join(_labelled(record.data)) or record.text.strip()
