"""Carry an archived conversation to another model: its path as that provider reads it.

``path(conversation, at)`` is the chain of messages from the root to ``at`` (default: the
visible leaf). ``convert(path, …)`` turns it into a ``ChatRequest`` for one provider, the same
way for every source:

- the system prompt is what the path ran under (``instructions.system_prompt``, the rule the
  Open WebUI and JSONL exports follow too: the path's system messages, then its custom
  instructions, then the conversation's own instruction records), then the system messages
  written here (``chat --profile``/``--system``, origin ``local``), as text: the person's own
  choice last, so it wins over what the conversation brought;
- user and assistant text is sent as written (citation markers out);
- tool calls and their results become text in the assistant's turn ("[Tool call: python]"
  with the input fenced, "[Tool result: browser]"), since no provider can replay another's
  tools. Every ``code`` part is a tool's input (ChatGPT's code interpreter, Claude's and Open
  WebUI's tool calls, AI Studio's code execution), so each is headed as a call, named by the
  part, else the message's recipient or author, else ``code``;
- a file whose text the export carried (Claude's attachments: extracted text, no bytes) goes
  as its name and that text, fenced, as the original model read it; a file without text as a
  line naming it;
- hidden reasoning (``thought`` parts) and memory snapshots are not sent; an answer written
  here that failed is skipped;
- images go as images when the provider's model takes them and the archive holds the bytes,
  else as a one-line placeholder naming the file; other files as a placeholder. An image in
  an assistant or tool turn (one a tool or the model made) stays there only where the API
  takes images in the model's turns (Gemini: ``Provider.ANSWER_IMAGES``); elsewhere (OpenAI
  Chat Completions, Anthropic) its placeholder stays and the image goes at the head of the
  next user turn, named, so the model still sees what it made;
- where the protocol requires alternation (Anthropic, Gemini), turns of one role in a row are
  joined and a first assistant turn gets a user turn before it; OpenAI's gets them as they are;
- when the estimate does not fit the model's context (its window less the answer's room), the
  oldest turns are left out, whole, and a notice says how many: never silently. The newest
  turn (the new prompt) always goes; when even it does not fit, the request is refused
  (``ProviderError`` of kind ``context``: the router tries the next model of the route).

Token counts are estimated, not tokenised (no tokenizer is available offline for every
model): a character of ASCII counts a quarter token, any other character a whole one, an image
1,000; an over-estimate for most text, so what is sent fits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from freehold._words import plural
from freehold.config import ModelRef
from freehold.errors import ProviderError
from freehold.instructions import worn_prompt
from freehold.models import AttachmentRef, Conversation, Message, Part, without_citation_marks
from freehold.providers.base import ChatRequest, Image, Provider, Turn

__all__ = ["Carried", "carry", "estimate", "path"]

_IMAGE_TOKENS = 1000
_TURN_TOKENS = 4
_OPENING = "(The conversation so far, carried over from an archive.)"
_MOVED = "[Image from the answer before: "


@dataclass(slots=True)
class Carried:
    """A path converted for one provider, before fitting."""

    system: str | None
    turns: list[Turn]
    notices: list[str] = field(default_factory=list)
    moved: list[Image] = field(default_factory=list)  # answers' images moved to user turns


def path(conversation: Conversation, at: Message | None = None) -> list[Message]:
    """Root to ``at`` (default: the visible leaf), parents first."""
    by_source = {m.source_id: m for m in conversation.messages}
    node = at or by_source.get(conversation.current_leaf or "")
    if node is None:
        return [m for m in conversation.messages if m.on_visible_path]
    chain: list[Message] = []
    seen: set[str] = set()
    while node is not None and node.source_id not in seen:
        seen.add(node.source_id)
        chain.append(node)
        node = by_source.get(node.parent_source_id or "")
    return chain[::-1]


def carry(
    messages: list[Message],
    conversation: Conversation | None,
    provider: Provider,
    ref: ModelRef,
    read_blob: Callable[[str], bytes | None],
) -> tuple[ChatRequest, list[str]]:
    """The request ``provider`` gets for ``messages``, fitted to its context; and the notices
    for the person (what was left out, what could not be sent)."""
    carried = _convert(messages, conversation, provider, read_blob)
    room = min(provider.config.max_tokens, max(256, provider.context_window // 4))
    turns, left_out, unsent = _fit(carried, provider.context_window - room, provider, ref)
    notices = _moved_notice(turns, carried.moved, provider) + carried.notices
    if unsent:
        notices.append(
            f"{plural(unsent, 'image')} from the last answer named but not sent: they do not "
            f"fit {ref}'s {provider.context_window:,}-token context with the prompt"
        )
    if left_out:
        notices.append(
            f"left out the {plural(left_out[0], 'oldest turn')} (~{left_out[1]:,} tokens) to fit "
            f"{ref}'s {provider.context_window:,}-token context"
        )
    request = ChatRequest(ref.model, tuple(turns), carried.system, max_tokens=room)
    return request, notices


def estimate(turn: Turn) -> int:
    """A turn's size in tokens, over-estimated (see the module docstring)."""
    size = _TURN_TOKENS
    for piece in turn.content:
        size += _IMAGE_TOKENS if isinstance(piece, Image) else _text_tokens(piece)
    return size


def _text_tokens(text: str) -> int:
    ascii_chars = sum(1 for c in text if c < "\x80")
    return (ascii_chars + 3) // 4 + (len(text) - ascii_chars)


def _fit(
    carried: Carried, budget: int, provider: Provider, ref: ModelRef
) -> tuple[list[Turn], tuple[int, int] | None, int]:
    """The turns that fit ``budget``, oldest left out first; how many were left out (and
    their tokens); how many images moved from the last answer were named instead of sent."""
    turns = list(carried.turns)
    budget -= _text_tokens(carried.system or "")
    unsent = 0
    if turns and estimate(turns[-1]) > budget:  # the new prompt never goes: its images may
        turns[-1], unsent = _named_only(turns[-1], carried.moved)
    sizes = [estimate(turn) for turn in turns]
    dropped, dropped_tokens = 0, 0
    while len(turns) > 1 and sum(sizes) > budget:
        dropped += 1
        dropped_tokens += sizes.pop(0)
        turns.pop(0)
    if sum(sizes) > budget:
        raise ProviderError(
            f"{ref}: the prompt alone (~{sum(sizes):,} tokens) does not fit its "
            f"{provider.context_window:,}-token context — shorten it, or raise context_window "
            f"for [providers.{ref.provider}] if the model reads more",
            kind="context",
        )
    if dropped and provider.ALTERNATING and turns and turns[0].role != "user":
        turns.insert(0, Turn("user", (_OPENING,)))
    return turns, (dropped, dropped_tokens) if dropped else None, unsent


def _moved_notice(turns: list[Turn], moved: list[Image], provider: Provider) -> list[str]:
    """The notice for the answers' images sent in user turns: counted in the turns that go,
    after fitting (a turn left out took its images with it)."""
    sent = sum(any(piece is image for image in moved) for turn in turns for piece in turn.content)
    if not sent:
        return []
    return [
        f"{plural(sent, 'image')} from answers sent with the next user turn: "
        f"{provider.name} ({provider.KIND}) takes images in user turns only"
    ]


def _named_only(turn: Turn, moved: list[Image]) -> tuple[Turn, int]:
    """``turn`` with the images moved into it from an answer left out, their names kept."""
    pieces: list[str | Image] = []
    unsent = 0
    for piece in turn.content:
        if isinstance(piece, Image) and any(piece is image for image in moved):
            unsent += 1
            if pieces and isinstance(pieces[-1], str) and pieces[-1].startswith(_MOVED):
                pieces[-1] = pieces[-1].removesuffix("]") + " — not sent: no room]"
            continue
        pieces.append(piece)
    return Turn(turn.role, tuple(pieces)), unsent


# -- converting one path -----------------------------------------------------------------


def _convert(
    messages: list[Message],
    conversation: Conversation | None,
    provider: Provider,
    read_blob: Callable[[str], bytes | None],
) -> Carried:
    turns: list[Turn] = []
    images = _Images(provider, read_blob)
    for message in messages:
        if message.status == "failed" and message.origin:
            continue  # an answer that never came
        if message.role == "system":
            continue  # the system prompt's (``worn_prompt``)
        pieces = _pieces(message, images)
        if pieces:
            role = "user" if message.role == "user" else "assistant"
            turns.append(Turn(role, tuple(pieces)))
    text = worn_prompt(conversation, messages)
    turns = _joined(images.unplaced(turns), provider.ALTERNATING)
    return Carried(text or None, turns, images.notices(), images.sent)


def _pieces(message: Message, images: _Images) -> list[str | Image]:
    answer = message.role != "user"  # an assistant's or a tool's turn
    pieces: list[str | Image] = [] if answer else images.moved()
    shown, loose = message.layout()
    tool = message.role == "tool" or (message.hidden and message.role == "assistant")
    for part, ref in shown:
        pieces.extend(_part(part, ref, message, images, tool=tool))
    read = {part.get("name") for part, _ in shown if _file_text(part)}
    for ref in loose:
        if ref.name not in read or _is_image(ref):  # else its text went with its name above
            pieces.extend(images.piece(ref, answer=answer))
    return [p for p in pieces if not isinstance(p, str) or p.strip()]


def _part(
    part: Part,
    ref: AttachmentRef | None,
    message: Message,
    images: _Images,
    *,
    tool: bool,
) -> Iterable[str | Image]:
    kind = part.get("type")
    text = str(part.get("text") or "")
    name = part.get("name") or message.meta.get("recipient") or message.author_name or ""
    name = name if isinstance(name, str) and name != "all" else ""
    if kind in ("text", "transcript"):
        text = without_citation_marks(text)
        return [f"[Tool result: {name}]\n{text}" if tool and message.role == "tool" else text]
    if kind == "code":  # always a tool's input (module docstring)
        return [f"[Tool call: {name or 'code'}]\n{_fenced(text, part.get('language'))}"]
    if kind == "execution_output":
        return [f"[Tool result: {name or 'code'}]\n{text}"]
    if kind == "web":
        head = " ".join(str(part.get(k) or "") for k in ("title", "url")).strip()
        return [f"[Tool result: {name or 'web'}] {head}\n{text}".rstrip()]
    if _file_text(part):
        label = part.get("name") or (ref.name if ref is not None else None) or "file"
        return [f"[File attached: {label}]\n{_fenced(text)}"]
    if kind in ("image", "audio", "file") and ref is not None:
        return images.piece(ref, answer=message.role != "user")
    if kind == "unknown":
        images.unknown += 1
    return []  # thoughts, citations, errors, context (the system prompt's): not sent


def _file_text(part: Part) -> bool:
    """Whether ``part`` is a file whose text the export carried."""
    return part.get("type") == "file" and bool(str(part.get("text") or "").strip())


def _is_image(ref: AttachmentRef) -> bool:
    return (ref.sniffed_mime or ref.mime or "").startswith("image/")


def _fenced(text: str, language: object = None) -> str:
    """``text`` in a Markdown fence longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language or ''}\n{text}\n{fence}"


def _joined(turns: list[Turn], alternating: bool) -> list[Turn]:
    """Where the protocol requires alternation, turns of one role in a row become one."""
    if not alternating:
        return turns
    joined: list[Turn] = []
    for turn in turns:
        if joined and joined[-1].role == turn.role:
            joined[-1] = Turn(turn.role, joined[-1].content + turn.content)
        else:
            joined.append(turn)
    if alternating and joined and joined[0].role != "user":
        joined.insert(0, Turn("user", (_OPENING,)))
    return joined


def _placeholder(name: str) -> str:
    return f"[Image: {name} — attached to the next user turn]"


class _Images:
    """Files on the path: images sent where the model takes them, else named; and counts
    for the notices."""

    def __init__(self, provider: Provider, read_blob: Callable[[str], bytes | None]) -> None:
        self.provider = provider
        self.read_blob = read_blob
        self.held_back = 0
        self.missing = 0
        self.unknown = 0
        self.waiting: list[str | Image] = []  # images of answers, for the next user turn
        self.sent: list[Image] = []  # those moved to a user turn (known by identity)

    def moved(self) -> list[str | Image]:
        """The images answers made since the last user turn, each named, to head it."""
        found, self.waiting = self.waiting, []
        self.sent += [piece for piece in found if isinstance(piece, Image)]
        return found

    def piece(self, ref: AttachmentRef, *, answer: bool = False) -> list[str | Image]:
        """What stands for ``ref`` in its turn; in an answer (``answer``) to a provider whose
        API takes no image there, its placeholder, the image waiting for the next user turn."""
        name = ref.name or ref.pointer
        if not _is_image(ref):
            return [f"[File attached: {name}]"]
        mime = ref.sniffed_mime or ref.mime or ""
        data = self.read_blob(ref.sha256) if ref.sha256 else None
        if data is None:
            self.missing += 1
            return [f"[Image: {name} — not in the archive]"]
        if not self.provider.takes_images:
            self.held_back += 1
            return [f"[Image: {name} — not sent: this model takes no images]"]
        if answer and not self.provider.ANSWER_IMAGES:
            self.waiting += [f"{_MOVED}{name}]", Image(data, mime)]
            return [_placeholder(name)]
        return [Image(data, mime)]

    def unplaced(self, turns: list[Turn]) -> list[Turn]:
        """``turns`` with the placeholders of the images still waiting — no user turn came
        after their answer — saying so, instead of promising the next user turn."""
        names = [p.removeprefix(_MOVED)[:-1] for p in self.waiting if isinstance(p, str)]
        unsent = {
            _placeholder(name): f"[Image: {name} — not sent: this API takes images in user "
            "turns only]"
            for name in names
        }
        end = len(turns)
        while unsent and end and turns[end - 1].role != "user":
            end -= 1
            turn = turns[end]
            turns[end] = Turn(
                turn.role,
                tuple(unsent.get(p, p) if isinstance(p, str) else p for p in turn.content),
            )
        return turns

    def notices(self) -> list[str]:
        found = []
        unsent = sum(isinstance(piece, Image) for piece in self.waiting)
        if unsent:  # an answer's images with no user turn after them
            found.append(
                f"{plural(unsent, 'image')} from the last answer named but not sent: "
                f"{self.provider.name} takes images in user turns only"
            )
        if self.held_back:
            found.append(
                f"{plural(self.held_back, 'image')} named but not sent: "
                f"{self.provider.name} is set to take no images (images = true in "
                f"[providers.{self.provider.name}] if it does)"
            )
        if self.missing:
            found.append(
                f"{plural(self.missing, 'image')} named but not sent: the archive lacks the file"
            )
        if self.unknown:
            found.append(
                f"{plural(self.unknown, 'part')} of kinds freehold does not understand not sent"
            )
        return found
