"""What a text looks like, for the sampler's strata and for comparing answers.

- Language: py3langid (langid.py's model, shipped in the package), on the text without its
  code; a text of fewer than four words (or 20 letters) has no language that can be told (``und``).
- Code: a fenced block, or several lines that read as code.
- Format: fenced code blocks, list items, headings (Markdown), as counts.
- Refusal: the phrases models use to decline, at the start of the answer (English and the
  commonest others). A refusal is counted as such only where the original did not refuse.
- Length buckets: under 80 characters, under 400, under 2,000, longer.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Shape", "language", "length_bucket", "looks_like_code", "refuses", "shape"]

_FENCE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)
_FENCED = re.compile(r"(```|~~~).*?(\1|\Z)", re.DOTALL)
_LIST = re.compile(r"^\s{0,6}(?:[-*+•]|\d{1,3}[.)])\s+\S", re.MULTILINE)
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+\S|^\*\*[^*\n]{2,80}\*\*\s*$", re.MULTILINE)
_CODE_LINE = re.compile(
    r"^\s*(?:def |class |import |from \S+ import |#include|function |const |let |var |"
    r"public |fn |SELECT |INSERT |UPDATE |for \(|if \(|return |\$ |>>> )|[;{}]\s*$"
)
_REFUSAL = re.compile(
    r"\b(?:I(?:'m| am) (?:sorry|unable|not able)|I can(?:'|no)t (?:help|assist|provide|"
    r"do that|comply)|I won't (?:help|provide)|I must decline|As an AI\b|"
    r"je ne peux pas|lo siento, (?:pero )?no puedo|ich kann (?:dir |Ihnen )?nicht helfen)",
    re.IGNORECASE,
)
_WORDS = re.compile(r"\w+", re.UNICODE)
_BUCKETS = ((80, "short"), (400, "medium"), (2000, "long"))


@dataclass(frozen=True, slots=True)
class Shape:
    """The format of one text."""

    chars: int
    code_blocks: int
    list_items: int
    headings: int
    language: str
    refusal: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def shape(text: str) -> Shape:
    return Shape(
        chars=len(text),
        code_blocks=len(_FENCE.findall(text)) // 2 + len(_FENCE.findall(text)) % 2,
        list_items=len(_LIST.findall(_FENCED.sub("", text))),
        headings=len(_HEADING.findall(_FENCED.sub("", text))),
        language=language(text),
        refusal=refuses(text),
    )


def language(text: str) -> str:
    """An ISO 639-1 code, or ``und`` when the text is too short to tell."""
    prose = _FENCED.sub(" ", text)
    words = _WORDS.findall(prose)
    if len(words) < 4 or sum(map(len, words)) < 20:
        return "und"
    import py3langid

    code, _score = py3langid.classify(prose[:4000])
    return str(code)


def looks_like_code(text: str) -> bool:
    if _FENCE.search(text):
        return True
    return sum(1 for line in text.splitlines() if _CODE_LINE.search(line)) >= 2


def refuses(text: str) -> bool:
    """A refusal near the start (a long answer that mentions "I can't" later is not one)."""
    return bool(_REFUSAL.search(text[:300]))


def length_bucket(text: str) -> str:
    size = len(text)
    return next((name for limit, name in _BUCKETS if size < limit), "very long")
