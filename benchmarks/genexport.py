"""Deterministic generator of realistic synthetic ChatGPT data exports.

Used by the benchmarks (100 MB to several GB), to build the small sample export shipped in
``examples/``, and by the tests.  Everything is stdlib (``zipfile``, ``zlib``, ``struct``,
``random``, ``json``).  The shapes follow FORMATS.md section A; no text is copied from real
exports, all prose, code and names are produced here from word lists and templates.

Design
------
* **Deterministic.**  One ``random.Random(seed)`` drives everything (ids included: uuid-looking
  strings come from ``getrandbits``, never ``uuid4``); zip members carry a fixed timestamp,
  fixed attributes and a fixed compression level, so the same seed and arguments give
  byte-identical output.  Whether an image file is actually written (``images=False``,
  "missing" images) never changes the random stream, so the JSON does not depend on it.
* **Streaming, flat memory.**  Conversations are built one at a time, serialised and written
  into an open zip member (``ZipFile.open(name, "w", force_zip64=True)``) through a 1 MiB
  buffer; the array brackets and separators are written by hand, so the bytes equal what
  ``json.dumps(whole_list, ...)`` would give without ever holding the list.  A zip archive
  cannot write two members at once, so image/blob files referenced by a conversation are
  queued (name + a shared bytes object from a small cache) and written after the
  conversations member (single layout) or after each shard (sharded layout).  Only these
  queues, the zip central directory itself, the asset-name map and a few capped side lists
  (feedback, shared links, library files) grow with the export: peak RSS ~40 MB at 200 MB,
  ~57 MB at 1 GB (23 k members).
* **Two layouts.**  ``single`` (2023-2025 style): ``conversations.json`` on one line with
  ``json.dumps`` defaults (``ensure_ascii=True``), conversations of the 2023, 2024 and 2025
  eras, images as ``file-<id>-<name>`` / ``dalle-generations/`` / ``user-<id>/``.
  ``sharded`` (2026 style): ``conversations-NNN.json`` pretty-printed (indent 2, keys sorted,
  UTF-8), nodes without ``children``, older conversations re-exported as *slim* messages,
  media as opaque ``.dat`` blobs named in ``conversation_asset_file_names.json``, and an
  ``export_manifest.json`` written last (it lists every other member with its size).
  The stdlib ``json`` module only uses its C encoder when ``indent`` is None, so the sharded
  layout uses :func:`_pretty`, a small printer that produces exactly the bytes of
  ``json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False)`` about twice as fast.
* **Coverage first.**  The first conversations follow a fixed plan (:data:`_COVERAGE`) so that
  even a ~300 KB export contains every content type, branch kind and oddity; later ones are
  drawn at random with era-dependent weights.
* **Compression.**  Members are deflated, as in real exports, so importer benchmarks pay
  for inflating too.  Up to 50 MB of JSON the level is 6 (zlib's default, realistic sizes);
  above it the level is 1, about three times faster.  Deflate runs in a writer thread (zlib
  releases the GIL), so it overlaps with building conversations: measured ~43 MB/s of JSON
  either way, deflate-1 or ``compresslevel=0`` (``ZIP_STORED``), i.e. a 1 GB export in ~25 s;
  the main thread (building dicts + serialising) is the limit.  The cyclic garbage collector
  is paused during a run (no reference cycles are made; it cost ~30% of build time).
* **Two profiles.**  ``default`` is the shape the figures in docs/performance.md were first
  taken on: ~1.8 KB of JSON per message, text of 50 B to 6 KB, 12 % tool messages.
  ``varied`` (``--profile varied``) is another account, shaped on the real exports in
  shared/fixtures/real (whose text runs from a few bytes to 14 KB): a third of the prompts
  are one-word replies ("ok", "go on") and a few a long paste (a log, a document, source
  files); half the answers are one line and one in twelve a 4-25 KB write-up; quick chats of
  1-3 turns beside working sessions of up to 120; about twice the tool turns (multi-round code
  interpreter, web search, image generation); a quarter of the prompts carry 1-4 uploaded
  images, each with its own bytes (~2.7x the images per MB); two to three times the forks
  per MB.  The default profile draws exactly the random numbers it always did, so its output
  is unchanged.
* **Media.**  Images are real, tiny and valid: an 8x8 PNG (zlib + struct), an 8x8 baseline
  JPEG (one DC coefficient per component, built here), a 1x1 lossless WEBP (VP8L with
  single-symbol prefix codes); the sharded layout also has MP4-looking blobs (``ftyp`` box)
  to exercise magic-byte sniffing.

Library use::

    stats = generate(Path("export.zip"), target_bytes=100_000_000, layout="sharded", seed=1)

Command line::

    python benchmarks/genexport.py OUT --size 100MB --layout sharded --seed 1 [--profile varied]
"""

from __future__ import annotations

import argparse
import gc
import json
import queue
import random
import re
import struct
import sys
import threading
import time
import zipfile
import zlib
from dataclasses import asdict, dataclass
from json.encoder import encode_basestring
from pathlib import Path
from typing import IO, Any

Json = dict[str, Any]

MIB = 1024 * 1024
DEFAULT_SHARD_BYTES = 64 * MIB
PROFILES = ("default", "varied")
FAST_COMPRESSION_ABOVE = 50_000_000
_FLUSH_BYTES = MIB
_UNKNOWN_TURN_RATE = 0.0012

_ERA_START = {2023: 1677628800.0, 2024: 1704067200.0, 2025: 1735689600.0, 2026: 1767225600.0}
_ERA_DAYS = {2023: 300, 2024: 365, 2025: 365, 2026: 240}
_ZIP_DATE = {"single": (2026, 1, 2, 3, 4, 6), "sharded": (2026, 9, 7, 1, 19, 26)}
_REGIONS = ("IAD", "SJC", "DFW", "CDG", "FRA", "AMS", "NRT")
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass
class GenStats:
    """What one :func:`generate` call wrote."""

    conversations: int = 0
    messages: int = 0  # mapping nodes with a message: every branch, hidden ones included
    branches: int = 0  # fork points: nodes with two or more children
    images: int = 0  # image files written (root, dalle-generations/, user-*/, .dat)
    images_missing: int = 0  # image_asset_pointer parts whose file is not in the export
    attachments: int = 0  # non-image blobs written (mp4 .dat)
    bytes_json: int = 0  # bytes of conversations JSON (all shards)
    shards: int = 0  # conversations files written
    members: int = 0  # files in the export


# --------------------------------------------------------------------------- media blobs


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(tag + data)
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)


def make_png(rgb: tuple[int, int, int], size: int = 8) -> bytes:
    """A valid ``size`` x ``size`` truecolour PNG of one solid colour."""
    raw = (b"\x00" + bytes(rgb) * size) * size
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(raw, 9))
        + _png_chunk(b"IEND", b"")
    )


_JPEG_DC_BITS = (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)  # standard luminance DC
_JPEG_AC_BITS = (1,) + (0,) * 15  # one symbol: EOB


def _huffman_codes(bits: tuple[int, ...]) -> list[str]:
    """Canonical Huffman codes, as bit strings, in symbol order."""
    codes: list[str] = []
    code = 0
    for length, count in enumerate(bits, start=1):
        for _ in range(count):
            codes.append(format(code, f"0{length}b"))
            code += 1
        code <<= 1
    return codes


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">HH", marker, len(payload) + 2) + payload


def _jpeg_scan(dcs: list[int]) -> bytes:
    """Entropy-coded data of one MCU: per component a DC difference then EOB."""
    dc_codes = _huffman_codes(_JPEG_DC_BITS)
    eob = _huffman_codes(_JPEG_AC_BITS)[0]
    bits = ""
    for dc in dcs:
        cat = abs(dc).bit_length()
        value = dc if dc >= 0 else dc + (1 << cat) - 1
        bits += dc_codes[cat] + (format(value, f"0{cat}b") if cat else "") + eob
    bits += "1" * (-len(bits) % 8)
    data = bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8))
    return data.replace(b"\xff", b"\xff\x00")


def make_jpeg(rgb: tuple[int, int, int]) -> bytes:
    """A valid 8x8 baseline JFIF JPEG of one solid colour (quantiser 8, DC only)."""
    r, g, b = rgb
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    dcs = [max(-127, min(127, round(v - 128))) for v in (y, cb, cr)]
    jfif = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    dqt = b"\x00" + b"\x08" * 64
    sof = struct.pack(">BHHB", 8, 8, 8, 3) + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00"
    dht = (
        b"\x00" + bytes(_JPEG_DC_BITS) + bytes(range(12)) + b"\x10" + bytes(_JPEG_AC_BITS) + b"\x00"
    )
    sos = b"\x03\x01\x00\x02\x00\x03\x00\x00\x3f\x00"
    return (
        b"\xff\xd8"
        + _jpeg_segment(0xFFE0, jfif)
        + _jpeg_segment(0xFFDB, dqt)
        + _jpeg_segment(0xFFC0, sof)
        + _jpeg_segment(0xFFC4, dht)
        + _jpeg_segment(0xFFDA, sos)
        + _jpeg_scan(dcs)
        + b"\xff\xd9"
    )


def _pack_lsb(fields: list[tuple[int, int]]) -> bytes:
    """Pack (value, nbits) fields LSB-first, as the VP8L bit reader expects."""
    acc = 0
    pos = 0
    for value, nbits in fields:
        acc |= value << pos
        pos += nbits
    return acc.to_bytes((pos + 7) // 8, "little")


def make_webp(rgb: tuple[int, int, int]) -> bytes:
    """A valid 1x1 lossless WEBP (VP8L, no transforms, five single-symbol prefix codes)."""
    fields = [(0x2F, 8), (0, 14), (0, 14), (0, 1), (0, 3), (0, 1), (0, 1), (0, 1)]
    r, g, b = rgb
    for symbol in (g, r, b, 255, 0):  # green, red, blue, alpha, distance
        fields += [(1, 1), (0, 1)]  # simple code, one symbol
        fields += [(0, 1), (symbol, 1)] if symbol < 2 else [(1, 1), (symbol, 8)]
    data = _pack_lsb(fields)
    pad = b"\x00" * (len(data) % 2)
    chunk = b"VP8L" + struct.pack("<I", len(data)) + data + pad
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def make_mp4(seed: int) -> bytes:
    """An MP4-looking blob: ftyp + free + mdat boxes (not playable, but sniffable)."""
    ftyp = struct.pack(">I", 28) + b"ftypisom" + struct.pack(">I", 512) + b"isomiso2mp41"
    payload = bytes((seed * 31 + i * 7) & 0xFF for i in range(240))
    return (
        ftyp
        + struct.pack(">I", 8)
        + b"free"
        + struct.pack(">I", 8 + len(payload))
        + b"mdat"
        + payload
    )


_PALETTE = (
    (231, 76, 60),
    (46, 204, 113),
    (52, 152, 219),
    (241, 196, 15),
    (155, 89, 182),
    (26, 188, 156),
    (236, 240, 241),
    (44, 62, 80),
)
_MAKERS = {"png": make_png, "jpeg": make_jpeg, "webp": make_webp}
_DIMS = {"png": 8, "jpeg": 8, "webp": 1}


class _Blobs:
    """Cache of media files: one bytes object per (kind, colour), shared by all references."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int], bytes] = {}

    def get(self, kind: str, colour: int) -> bytes:
        key = (kind, colour % len(_PALETTE))
        blob = self._cache.get(key)
        if blob is None:
            blob = make_mp4(key[1]) if kind == "mp4" else _MAKERS[kind](_PALETTE[key[1]])
            self._cache[key] = blob
        return blob


# --------------------------------------------------------------------------- ids


class _Ids:
    """uuid-looking and ChatGPT-looking identifiers drawn from the seeded RNG."""

    def __init__(self, rng: random.Random) -> None:
        self._bits = rng.getrandbits

    def uuid(self) -> str:
        h = f"{self._bits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"

    def hex32(self) -> str:
        return f"{self._bits(128):032x}"

    def base62(self, n: int) -> str:
        value = self._bits(6 * n)
        out = []
        for _ in range(n):
            value, digit = divmod(value, 62)
            out.append(_B62[digit])
        return "".join(out)

    def dated_uuid(self, when: float) -> str:
        """2025-style conversation id: the hex epoch seconds lead the uuid."""
        h = self.hex32()
        return (
            f"{int(when):08x}-{h[8:12]}-8{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"
        )

    def request_id(self) -> str:
        return f"{self._bits(64):016x}-{_REGIONS[self._bits(3) % len(_REGIONS)]}"


# --------------------------------------------------------------------------- text

_TOPICS: tuple[tuple[str, tuple[str, ...], tuple[str, ...], str], ...] = (
    (
        "sourdough baking",
        ("starter", "levain", "crumb", "crust", "bulk proof", "dough"),
        ("feed", "fold", "shape", "bake", "score"),
        "",
    ),
    (
        "Python packaging",
        ("wheel", "pyproject.toml", "virtualenv", "entry point", "lock file", "build backend"),
        ("build", "pin", "publish", "install", "vendor"),
        "python",
    ),
    (
        "PostgreSQL indexing",
        ("index", "query plan", "table", "vacuum run", "sequential scan", "partial index"),
        ("analyze", "rewrite", "partition", "benchmark", "tune"),
        "sql",
    ),
    (
        "marathon training",
        ("long run", "tempo session", "recovery day", "heart rate", "taper", "cadence"),
        ("schedule", "track", "extend", "rest", "pace"),
        "",
    ),
    (
        "home networking",
        ("router", "mesh node", "VLAN", "DNS resolver", "firewall rule", "access point"),
        ("configure", "isolate", "reboot", "monitor", "upgrade"),
        "bash",
    ),
    (
        "vegetable gardening",
        ("raised bed", "compost pile", "seedling", "mulch", "trellis", "soil test"),
        ("plant", "water", "prune", "rotate", "harvest"),
        "",
    ),
    (
        "personal budgeting",
        ("budget", "spreadsheet", "emergency fund", "subscription", "category", "savings goal"),
        ("track", "trim", "allocate", "review", "automate"),
        "python",
    ),
    (
        "Rust lifetimes",
        ("borrow checker", "lifetime", "reference", "struct", "trait object", "iterator"),
        ("annotate", "clone", "refactor", "borrow", "compile"),
        "rust",
    ),
    (
        "essay editing",
        ("thesis", "paragraph", "transition", "citation", "conclusion", "outline"),
        ("tighten", "reorder", "cite", "draft", "polish"),
        "",
    ),
    (
        "job interviews",
        ("resume", "cover letter", "portfolio", "reference", "salary range", "follow-up email"),
        ("prepare", "rehearse", "negotiate", "tailor", "send"),
        "",
    ),
    (
        "Kubernetes deployments",
        ("pod", "deployment", "liveness probe", "config map", "ingress", "helm chart"),
        ("deploy", "scale", "roll back", "inspect", "patch"),
        "yaml",
    ),
    (
        "bird watching",
        ("pair of binoculars", "field guide", "migration", "feeder", "song", "wetland"),
        ("spot", "log", "identify", "photograph", "visit"),
        "",
    ),
    (
        "JavaScript debugging",
        ("promise", "event loop", "closure", "stack trace", "bundle", "breakpoint"),
        ("log", "await", "bisect", "step through", "profile"),
        "javascript",
    ),
    (
        "travel planning",
        ("itinerary", "rail pass", "guesthouse", "museum ticket", "day trip", "packing list"),
        ("book", "compare", "pack", "plan", "reserve"),
        "",
    ),
    (
        "data analysis",
        ("dataframe", "outlier", "histogram", "regression", "CSV export", "pivot table"),
        ("clean", "plot", "aggregate", "filter", "normalize"),
        "python",
    ),
    (
        "chess improvement",
        ("opening", "endgame", "tactic", "pawn structure", "time control", "blunder"),
        ("study", "analyze", "drill", "review", "calculate"),
        "",
    ),
    (
        "woodworking",
        ("chisel", "dovetail", "hand plane", "glue-up", "finish", "workbench"),
        ("sharpen", "clamp", "sand", "measure", "cut"),
        "",
    ),
    (
        "home espresso",
        ("grinder", "portafilter", "shot", "tamper", "milk jug", "roast date"),
        ("dial in", "weigh", "steam", "descale", "taste"),
        "",
    ),
)

_ADJECTIVES = (
    "stable",
    "small",
    "clean",
    "simple",
    "consistent",
    "warm",
    "fresh",
    "slow",
    "robust",
    "tidy",
    "cheap",
    "quiet",
    "flexible",
    "predictable",
    "boring",
    "reliable",
    "lighter",
)

_SENTENCES = (
    "The key thing with {t} is to {v} the {n} before you touch the {m}.",
    "If the {n} looks off, {v} it again and then check the {m}.",
    "Most people find that a {a} {n} makes {t} much easier.",
    "You can usually {v} the {n} in about {k} minutes.",
    "A common mistake is to ignore the {m} entirely.",
    "Try to keep the {n} {a} and write down what changes.",
    "In my experience, {t} rewards patience more than cleverness.",
    "Start small: {v} one {n}, measure, then adjust the {m}.",
    "There are {k} reasonable options here, and none of them is perfect.",
    "The {n} and the {m} interact, so change one thing at a time.",
    "Keep a short log of every {n} you {v}; it pays off within a week.",
    "Here is a quick way to {v} the {n} without extra tools.",
    "Note that the {m} depends on the {n}, not the other way round.",
    "For {t}, a {a} {m} is usually good enough.",
    "Once the {n} is {a}, it becomes much easier to {v} the {m}.",
    "I would not {v} the {n} more than {k} times in a row.",
    "That said, your {m} may behave differently, so test it first.",
    "If you only change one thing this week, {v} the {n}.",
    "A {a} {n} beats a clever one almost every time.",
    "Expect the first {k} attempts to feel awkward; that is normal.",
    "It helps to {v} the {m} at the same time every day.",
    "Write the goal down in one sentence before you {v} anything.",
    "The numbers below are rough, but they are a sensible starting point.",
    "Let me know if you want a version that focuses only on the {m}.",
)
_PROMPTS = (
    "How do I {v} the {n} for {t}?",
    "Can you explain why my {n} is not {a} anymore?",
    "Write a short checklist for {t}.",
    "What's the difference between a {n} and a {m}?",
    "Give me {k} ideas to improve my {n}.",
    "I keep getting stuck when I {v} the {m}. Any advice?",
    "Summarize the main steps of {t} in a few bullet points.",
    "Is it worth it to {v} the {n} every week, or is that overkill?",
    "my {n} broke again lol, what should i check first",
    "Please review this and tell me what to change about the {m}.",
    "Compare two approaches to {t} and recommend one.",
    "Explain {t} to me like I'm new to it.",
)
_HEADINGS = (
    "Quick answer",
    "Step by step",
    "What to check",
    "Why this happens",
    "Summary",
    "Options",
    "A simple plan",
    "Details",
    "Next steps",
    "Trade-offs",
)
_TITLE_SUFFIX = (
    "help",
    "question",
    "tips",
    "plan",
    "overview",
    "troubleshooting",
    "ideas",
    "checklist",
    "basics",
    "comparison",
    "review",
    "advice",
)
_FOREIGN: dict[str, tuple[str, ...]] = {
    "fr": (
        "Peux-tu m'aider à organiser un week-end à Lyon avec un petit budget ?",
        "Voici une proposition d'itinéraire, étape par étape.",
        "Le marché couvert ouvre tôt : c'est idéal pour le petit-déjeuner.",
        "Pense à réserver le restaurant à l'avance, surtout le samedi soir.",
        "Ça dépend de ton budget, mais on peut rester très raisonnable.",
        "Les musées sont plus calmes le matin, avant l'arrivée des groupes.",
        "Veux-tu une version plus détaillée, avec les horaires et les prix ?",
        "Une balade au bord de la Saône après le déjeuner, ça te tente ?",
        "Bien sûr ! Je reprends la liste et j'ajoute les étapes manquantes.",
    ),
    "de": (
        "Kannst du mir erklären, wie die Steuererklärung für Freiberufler funktioniert?",
        "Zuerst brauchst du eine Übersicht über alle Einnahmen und Ausgaben.",
        "Die Abgabefrist hängt davon ab, ob dich ein Steuerbüro unterstützt.",
        "Belege solltest du sorgfältig und vollständig aufbewahren.",
        "Größere Anschaffungen werden oft über mehrere Jahre abgeschrieben.",
        "Möchtest du eine Checkliste mit allen Schritten für dieses Jahr?",
        "Grüße aus München – und danke für die schnelle Antwort!",
        "Das klingt gut, aber wie gehe ich mit Rechnungen aus dem Ausland um?",
        "Kurz gesagt: früh anfangen, alles sammeln, nichts schätzen.",
    ),
    "ja": (
        "明日の会議の議題を短くまとめてください。",
        "まず目的を一文で書き、その後に三つの論点を並べましょう。",
        "時間配分は各論点十分程度が目安です。",
        "資料は前日の夕方までに共有すると安心です。",
        "メールの敬語が自然かどうか確認してもらえますか？",
        "とても丁寧で読みやすい文面になっています。",
        "週末は京都で紅葉を見に行く予定です。",
        "ありがとうございます！とても助かりました。",
        "もう少し短いバージョンも作ってください。",
    ),
}
_EMOJI = ("🙂", "🚀", "✅", "📌", "🤔", "🎉", "🔥", "🌍", "☕", "📊", "👍", "✨", "🧪", "🐍")
_CODE: dict[str, tuple[str, ...]] = {
    "python": (
        'def {f}(values: list[int]) -> int:\n    """Sum the values above {k}."""\n    total = 0\n'
        "    for value in values:\n        if value > {k}:\n            total += value\n"
        "    return total\n\n\nprint({f}([{k}, {j}, {i}]))",
        "import csv\nfrom collections import Counter\n\ncounts = Counter()\n"
        'with open("{f}.csv", newline="") as fh:\n    for row in csv.DictReader(fh):\n'
        '        counts[row["{g}"]] += 1\n\nfor key, n in counts.most_common({k}):\n'
        '    print(f"{{key}}: {{n}}")',
        "class {F}:\n    def __init__(self, limit: int = {k}) -> None:\n"
        "        self.limit = limit\n"
        "        self.items: list[str] = []\n\n    def add(self, item: str) -> bool:\n"
        "        if len(self.items) >= self.limit:\n            return False\n"
        "        self.items.append(item)\n        return True",
    ),
    "javascript": (
        "async function {f}(url) {{\n  const res = await fetch(url);\n  if (!res.ok) {{\n"
        "    throw new Error(`HTTP ${{res.status}}`);\n  }}\n  return res.json();\n}}\n\n"
        "{f}('/api/{g}?limit={k}').then(console.log);",
        "const {g} = [{k}, {j}, {i}];\nconst total = {g}.reduce((acc, n) => acc + n, 0);\n"
        "console.log(`total=${{total}}`);",
    ),
    "sql": (
        "SELECT {g}_id, count(*) AS n\nFROM {g}\nWHERE created_at > now() - interval '{k} days'\n"
        "GROUP BY {g}_id\nORDER BY n DESC\nLIMIT {j};",
        "CREATE INDEX CONCURRENTLY idx_{g}_{f}\n    ON {g} ({f})\n    WHERE deleted_at IS NULL;",
    ),
    "bash": (
        "#!/usr/bin/env bash\nset -euo pipefail\nfor f in ./{g}/*.log; do\n"
        '  grep -c "ERROR" "$f" || true\ndone | sort -n | tail -n {k}',
        "sudo systemctl restart {g}\njournalctl -u {g} --since '-{k}min' | tail -n {j}",
    ),
    "rust": (
        "fn {f}<'a>(items: &'a [String], prefix: &str) -> Vec<&'a String> {{\n"
        "    items.iter().filter(|s| s.starts_with(prefix)).collect()\n}}",
        "#[derive(Debug, Clone)]\nstruct {F} {{\n    id: u32,\n    name: String,\n}}\n\n"
        'fn main() {{\n    let v = {F} {{ id: {k}, name: "{g}".into() }};\n'
        '    println!("{{:?}}", v);\n}}',
    ),
    "yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {g}\nspec:\n  replicas: {k}\n"
        "  template:\n    spec:\n      containers:\n        - name: {g}\n"
        "          image: registry.example.com/{g}:1.{j}",
    ),
}
_IDENTS = (
    "parse_rows",
    "load_config",
    "score",
    "summarize",
    "fetch_items",
    "normalize",
    "orders",
    "events",
    "users",
    "metrics",
    "invoices",
    "sessions",
)
_DOMAINS = (
    "en.wikipedia.org",
    "docs.python.org",
    "developer.mozilla.org",
    "www.bbc.co.uk",
    "stackoverflow.com",
    "github.com",
    "blog.example.com",
    "news.example.org",
    "www.lemonde.fr",
    "www.nhk.or.jp",
    "www.zeit.de",
    "guides.example.net",
)
_MEMORIES = (
    "User prefers metric units.",
    "User is training for a half marathon in the spring.",
    "User's main programming language is Python.",
    "User prefers concise answers with bullet points.",
    "User is learning Japanese and wants romaji alongside kana.",
    "User lives in a small apartment and has no car.",
    "User works as a nurse on night shifts.",
    "User wants recipes without peanuts.",
)
_ABOUT_USER = (
    "I'm a backend developer, mostly Python and Postgres. I live near Rotterdam.",
    "Teacher, 8th grade science. I like examples I can use in class.",
    "Hobby baker and part-time student; keep it practical.",
    "Product manager at a small startup. Non-native English speaker.",
)
_ABOUT_MODEL = (
    "Be concise. Use metric units. No filler sentences.",
    "Answer in bullet points first, details after. Ask before long answers.",
    "Prefer standard-library solutions and explain trade-offs briefly.",
    "Be direct and friendly; use British spelling.",
)


_SHORT_PROMPTS = (
    "ok",
    "thanks!",
    "continue",
    "yes",
    "why?",
    "shorter please",
    "and in Python?",
    "go on",
    "perfect, thank you",
    "that didn't work",
    "what about the second one?",
    "can you explain step 3?",
    "hmm",
    "ok thx",
    "no",
    "again but simpler",
)
_SHORT_ANSWERS = (
    "Sure.",
    "Done.",
    "You're welcome!",
    "Yes, exactly.",
    "Glad it helped.",
    "Good catch, that was a typo.",
    "Here it is, shorter.",
    "Happy to help. 🙂",
    "No, that is not needed.",
)
_PASTE_LEADS = (
    "Here's the full output, what is going wrong?",
    "Can you summarize this?",
    "Please review this file:",
    "This is what I have so far.",
    "Fix the errors in this:",
    "Translate this into plain English:",
)
_LOG_LINES = (
    "2025-03-04T10:{s}:02.113Z INFO  {f}: request handled in {n} ms",
    "2025-03-04T10:{s}:02.441Z WARN  {f}: retrying after timeout (attempt {n})",
    "2025-03-04T10:{s}:03.007Z ERROR {f}: connection reset by peer",
    "Traceback (most recent call last):",
    '  File "/srv/app/{f}.py", line {n}, in handle',
    "    return self._dispatch(request)",
    "KeyError: '{f}'",
    "[{n}/1000] building {f}.o",
    "npm WARN deprecated {f}@1.{s}.0: no longer supported",
)


@dataclass
class _Blocks:
    paragraphs: list[str]
    lists: list[str]
    code: list[str]
    tables: list[str]


class _Text:
    """Prose, prompts, markdown answers and code, from seeded pools built once per run."""

    def __init__(self, rng: random.Random, varied: bool = False) -> None:
        self.rng = rng
        self.varied = varied
        self.sentences = [self._pool(i, _SENTENCES, 48) for i in range(len(_TOPICS))]
        self.prompts = [self._pool(i, _PROMPTS, 24) for i in range(len(_TOPICS))]
        self._blocks: dict[tuple[int, str], _Blocks] = {}

    def _fill(self, template: str, topic: int) -> str:
        name, nouns, verbs, _ = _TOPICS[topic]
        n, m = self.rng.sample(nouns, 2)
        return template.format(
            t=name,
            n=n,
            m=m,
            v=self.rng.choice(verbs),
            a=self.rng.choice(_ADJECTIVES),
            k=self.rng.randint(2, 12),
        )

    def _pool(self, topic: int, templates: tuple[str, ...], size: int) -> list[str]:
        return [self._fill(self.rng.choice(templates), topic) for _ in range(size)]

    def sentences_of(self, topic: int, lang: str, k: int) -> str:
        pool = _FOREIGN[lang] if lang in _FOREIGN else self.sentences[topic]
        sep = "" if lang == "ja" else " "
        return sep.join(self.rng.choices(pool, k=k))

    def prompt(self, topic: int, lang: str) -> str:
        if self.varied:  # the varied profile: a third are one-word replies, a few a long paste
            roll = self.rng.random()
            if roll < 0.33:
                pool = _FOREIGN.get(lang, _SHORT_PROMPTS)  # foreign replies are whole lines
                return self.rng.choice(pool)
            if roll < 0.39:
                return self.paste(topic, lang)
        if lang in _FOREIGN:
            text = self.rng.choice(_FOREIGN[lang])
        else:
            text = self.rng.choice(self.prompts[topic])
        if self.rng.random() < 0.15:
            text += " " + self.rng.choice(_EMOJI)
        if self.rng.random() < 0.12:
            language, code = self.code(topic)
            text += f"\n\n```{language}\n{code}\n```"
        elif self.rng.random() < 0.1:
            pasted = self.blocks(topic, lang).paragraphs
            text += "\n\n" + "\n\n".join(self.rng.choices(pasted, k=self.rng.randint(1, 4)))
        if self.rng.random() < 0.1:
            text = text.replace("\n", "\r\n")
        return text

    def code(self, topic: int, crlf: bool = False) -> tuple[str, str]:
        language = _TOPICS[topic][3] or self.rng.choice(("python", "python", "javascript", "bash"))
        ident = self.rng.choice(_IDENTS)
        src = self.rng.choice(_CODE[language]).format(
            f=ident,
            F="".join(p.title() for p in ident.split("_")),
            g=self.rng.choice(_IDENTS),
            k=self.rng.randint(2, 50),
            j=self.rng.randint(2, 99),
            i=self.rng.randint(100, 999),
        )
        return language, src.replace("\n", "\r\n") if crlf else src

    def title(self, topic: int, lang: str) -> str:
        if lang == "fr":
            return "Week-end à Lyon"
        if lang == "de":
            return "Steuererklärung Fragen"
        if lang == "ja":
            return "会議の議題"
        return f"{_TOPICS[topic][0].capitalize()} {self.rng.choice(_TITLE_SUFFIX)}"

    def blocks(self, topic: int, lang: str) -> _Blocks:
        """Ready-made paragraphs, lists, code blocks and tables for one topic and language.

        Built lazily (still deterministic: the RNG stream order does not change) so that an
        answer is assembled from a handful of picks instead of dozens of small draws.
        """
        key = (topic, lang)
        blocks = self._blocks.get(key)
        if blocks is None:
            rng = self.rng
            blocks = _Blocks(
                paragraphs=[self.sentences_of(topic, lang, rng.randint(4, 9)) for _ in range(48)],
                lists=[f"### {rng.choice(_HEADINGS)}\n\n{self._bullets(topic, lang)}"
                       for _ in range(16)],
                code=[self._fenced(topic) for _ in range(16)],
                tables=[self._table(topic) for _ in range(6)],
            )  # fmt: skip
            self._blocks[key] = blocks
        return blocks

    def _fenced(self, topic: int) -> str:
        language, code = self.code(topic)
        return f"```{language}\n{code}\n```"

    def answer(self, topic: int, lang: str, crlf: bool = False) -> str:
        """A markdown answer: short (one paragraph), normal, or long (several sections)."""
        rand = self.rng.random  # the hottest path: index with random() instead of choice()
        b = self.blocks(topic, lang)
        if self.varied:
            roll = rand()
            if roll < 0.3:  # "Done.", or one sentence
                pool = _FOREIGN.get(lang, _SHORT_ANSWERS)
                return pool[int(rand() * len(pool))]
            if roll < 0.5:
                return self.sentences_of(topic, lang, 1 + int(rand() * 3))
            if roll >= 0.92:
                return self.long_answer(topic, lang, crlf)
        paragraphs = b.paragraphs
        n_par = len(paragraphs)
        roll = rand()
        if roll < 0.15:
            return paragraphs[int(rand() * n_par)]
        parts = [paragraphs[int(rand() * n_par)]]
        code_rate = 0.6 if _TOPICS[topic][3] else 0.15
        for _ in range(1 if roll < 0.75 else 3):
            if rand() < 0.8:
                parts.append(b.lists[int(rand() * len(b.lists))])
            if rand() < code_rate:
                code = b.code[int(rand() * len(b.code))]
                parts.append(code.replace("\n", "\r\n") if crlf or rand() < 0.08 else code)
            if rand() < 0.12:
                parts.append(b.tables[int(rand() * len(b.tables))])
            parts.append(paragraphs[int(rand() * n_par)])
        parts.append(paragraphs[int(rand() * n_par)])
        if rand() < 0.1:
            parts.append(_EMOJI[int(rand() * len(_EMOJI))])
        return "\n\n".join(parts)

    def long_answer(self, topic: int, lang: str, crlf: bool = False) -> str:
        """A long write-up (varied profile): 4-12 sections, 4-25 KB, most with code."""
        rand = self.rng.random
        b = self.blocks(topic, lang)
        parts = [b.paragraphs[int(rand() * len(b.paragraphs))]]
        for _ in range(4 + int(rand() * 9)):
            parts.append(f"## {_HEADINGS[int(rand() * len(_HEADINGS))]}")
            parts += self.rng.choices(b.paragraphs, k=1 + int(rand() * 3))
            parts.append(b.lists[int(rand() * len(b.lists))])
            if rand() < 0.6:
                parts += self.rng.choices(b.code, k=1 + int(rand() * 2))
            if rand() < 0.15:
                parts.append(b.tables[int(rand() * len(b.tables))])
        text = "\n\n".join(parts)
        return text.replace("\n", "\r\n") if crlf else text

    def paste(self, topic: int, lang: str) -> str:
        """A question with a long paste under it: a log, a document or a source file."""
        head = self.rng.choice(_PASTE_LEADS)
        kind = self.rng.random()
        if kind < 0.4:
            rows = self.rng.choices(_LOG_LINES, k=self.rng.randint(30, 400))
            ident = self.rng.choice(_IDENTS)
            body = "\n".join(
                line.format(s=10 + i % 50, f=ident, n=i * 7 % 997) for i, line in enumerate(rows)
            )
            return f"{head}\n\n```\n{body}\n```"
        if kind < 0.7:
            paragraphs = self.blocks(topic, lang).paragraphs
            return (
                head + "\n\n" + "\n\n".join(self.rng.choices(paragraphs, k=self.rng.randint(6, 40)))
            )
        codes = [self.code(topic)[1] for _ in range(self.rng.randint(3, 12))]
        return f"{head}\n\n```\n" + "\n\n".join(codes) + "\n```"

    def _bullets(self, topic: int, lang: str) -> str:
        numbered = self.rng.random() < 0.4
        lines = []
        for i in range(self.rng.randint(3, 7)):
            lead = f"{i + 1}." if numbered else "-"
            noun = self.rng.choice(_TOPICS[topic][1])
            detail = self.sentences_of(topic, lang, self.rng.randint(1, 2))
            lines.append(f"{lead} **{noun.capitalize()}**: {detail}")
        return "\n".join(lines)

    def _table(self, topic: int) -> str:
        nouns = _TOPICS[topic][1]
        rows = [
            f"| {n} | {self.rng.randint(1, 60)} | {self.rng.choice(_ADJECTIVES)} |" for n in nouns
        ]
        return "| Item | Minutes | Note |\n|---|---:|---|\n" + "\n".join(rows)


# --------------------------------------------------------------------------- JSON output


def _pretty(obj: Any, out: list[str], indent: str) -> None:
    """Append the text of ``json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False)``.

    ``indent`` is the indentation of the line ``obj`` starts on.  The stdlib only has a C
    encoder for compact output; this is about twice as fast as its pure-Python indent path.
    """
    kind = type(obj)
    if kind is dict:
        _pretty_dict(obj, out, indent)
    elif kind is list:
        _pretty_list(obj, out, indent)
    else:
        out.append(_leaf(obj))


def _leaf(obj: Any) -> str:
    if type(obj) is str:
        return encode_basestring(obj)
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if type(obj) is float:
        return float.__repr__(obj)
    return int.__repr__(obj)


# Per indentation: the text before a key, for the first key and for the others.
_KEY_LEADS_MAX = 256
_KEY_LEADS: dict[str, tuple[dict[str, str], dict[str, str]]] = {}


def _key_leads(inner: str) -> tuple[dict[str, str], dict[str, str]]:
    leads = _KEY_LEADS.get(inner)
    if leads is None:
        leads = _KEY_LEADS[inner] = ({}, {})
    return leads


def _pretty_dict(obj: Json, out: list[str], indent: str) -> None:
    if not obj:
        out.append("{}")
        return
    inner = indent + "  "
    firsts, rests = _key_leads(inner)
    table = firsts
    for key in sorted(obj):
        lead = table.get(key)
        if lead is None:
            lead = ("{\n" if table is firsts else ",\n") + inner + encode_basestring(key) + ": "
            if len(table) < _KEY_LEADS_MAX:  # mapping keys are unique node ids: do not keep
                table[key] = lead
        table = rests
        value = obj[key]
        kind = type(value)
        if kind is str:
            out.append(lead + encode_basestring(value))
        elif kind is dict:
            out.append(lead)
            _pretty_dict(value, out, inner)
        elif kind is list:
            out.append(lead)
            _pretty_list(value, out, inner)
        else:
            out.append(lead + _leaf(value))
    out.append("\n" + indent + "}")


def _pretty_list(obj: list[Any], out: list[str], indent: str) -> None:
    if not obj:
        out.append("[]")
        return
    inner = indent + "  "
    lead = "[\n" + inner
    for value in obj:
        kind = type(value)
        if kind is dict:
            out.append(lead)
            _pretty_dict(value, out, inner)
        elif kind is list:
            out.append(lead)
            _pretty_list(value, out, inner)
        else:
            out.append(lead + _leaf(value))
        lead = ",\n" + inner
    out.append("\n" + indent + "]")


def pretty_json(obj: Any, indent: str = "") -> str:
    out: list[str] = []
    _pretty(obj, out, indent)
    return "".join(out)


# --------------------------------------------------------------------------- sinks


class _Stream:
    """Buffered writer into one member; counts the bytes written.

    Full 1 MiB buffers go through a small bounded queue to a writer thread: zlib's deflate
    and crc32 release the GIL, so compression runs on a second core while the main thread
    builds the next conversations.  Chunks are written in order, so output is unchanged.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._buf: list[bytes] = []
        self._pending = 0
        self.size = 0
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="genexport-writer", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._raw.write(chunk)
                except BaseException as exc:  # re-raised in the main thread
                    self._error = exc

    def write(self, data: bytes) -> None:
        self._buf.append(data)
        self._pending += len(data)
        self.size += len(data)
        if self._pending >= _FLUSH_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._error is not None:
            raise self._error
        if self._buf:
            self._queue.put(b"".join(self._buf))
            self._buf.clear()
            self._pending = 0

    def close(self) -> None:
        try:
            self._flush()
        finally:
            self._queue.put(None)
            self._thread.join()
        if self._error is not None:
            raise self._error
        self._raw.close()


class _Sink:
    """Where members go: a zip archive or a folder.  Records each member's size."""

    def __init__(self) -> None:
        self.sizes: dict[str, int] = {}
        self._open: _Stream | None = None

    def _raw(self, name: str, large: bool) -> IO[bytes]:
        raise NotImplementedError

    def open_stream(self, name: str) -> _Stream:
        self._open = _Stream(self._raw(name, large=True))
        return self._open

    def close_stream(self, name: str, stream: _Stream) -> None:
        self._open = None
        stream.close()
        self.sizes[name] = stream.size

    def put(self, name: str, data: bytes) -> None:
        with self._raw(name, large=False) as fh:
            fh.write(data)
        self.sizes[name] = len(data)

    def close(self) -> None:
        """Finish a stream left open by an error, so the archive can still be closed."""
        if self._open is not None:
            stream, self._open = self._open, None
            stream.close()


class _ZipSink(_Sink):
    def __init__(self, path: Path, level: int, date: tuple[int, int, int, int, int, int]) -> None:
        super().__init__()
        self._level = level
        self._date = date
        self._zip = zipfile.ZipFile(path, "w", allowZip64=True)

    def _raw(self, name: str, large: bool) -> IO[bytes]:
        info = zipfile.ZipInfo(name, date_time=self._date)
        info.create_system = 3
        info.external_attr = 0o100644 << 16
        if self._level == 0:
            info.compress_type = zipfile.ZIP_STORED
        else:
            info.compress_type = zipfile.ZIP_DEFLATED
            level_attr = "compress_level" if sys.version_info >= (3, 13) else "_compresslevel"
            setattr(info, level_attr, self._level)
        return self._zip.open(info, "w", force_zip64=large)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._zip.close()


class _DirSink(_Sink):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self._root = path
        path.mkdir(parents=True, exist_ok=True)

    def _raw(self, name: str, large: bool) -> IO[bytes]:
        target = self._root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        return target.open("wb")


class _ConvWriter:
    """Streams conversations into ``conversations.json`` or rolling ``conversations-NNN.json``."""

    def __init__(self, gen: _Generator) -> None:
        self._gen = gen
        self._sharded = gen.sharded
        self._stream: _Stream | None = None
        self._name = ""
        self.shards: list[str] = []
        self.bytes_written = 0

    def add(self, conv: Json) -> None:
        if self._sharded:
            body = pretty_json(conv, "  ").encode("utf-8")
            head, sep = b"[\n  ", b",\n  "
        else:
            body = json.dumps(conv).encode("ascii")
            head, sep = b"[", b", "
        stream = self._stream
        lead = sep
        if stream is None:
            stream = self._open()
            lead = head
        stream.write(lead)
        stream.write(body)
        self.bytes_written += len(lead) + len(body)
        if self._sharded and stream.size >= self._gen.shard_bytes:
            self.close()

    def _open(self) -> _Stream:
        if self._sharded:
            self._name = f"conversations-{len(self.shards):03d}.json"
        else:
            self._name = "conversations.json"
        self.shards.append(self._name)
        self._stream = self._gen.sink.open_stream(self._name)
        return self._stream

    def close(self) -> None:
        if self._stream is None:
            return
        tail = b"\n]" if self._sharded else b"]"
        self._stream.write(tail)
        self.bytes_written += len(tail)
        self._gen.sink.close_stream(self._name, self._stream)
        self._stream = None
        self._gen.flush_blobs()


# --------------------------------------------------------------------------- plans


@dataclass
class _Plan:
    era: int
    turns: list[tuple[str, str]]  # (user kind, assistant kind)
    topic: int
    lang: str = "en"
    edit_fork: bool = False
    regen_fork: bool = False
    current_on_alt: bool = False  # the abandoned branch comes first: current is not child 0
    interrupted: bool = False
    dangling: bool = False
    title_null: bool = False
    custom_ctx: bool = False
    gizmo: str = ""  # "", "gpt" or "project"
    archived: bool = False
    starred: bool = False
    missing_image: bool = False
    crlf: bool = False
    model: str = ""
    forks: int = 1  # how many edit / regenerate forks of each kind (varied profile: 1-3)
    images: int = 1  # images per upload (varied profile: 1-4)


# Fixed plans for the first conversations, so that small exports cover every feature:
# every content type, tool, fork kind, era, model family and oddity appears in ~300 KB.
_COVERAGE: tuple[Json, ...] = (
    {"era": 2023, "turns": [("text", "browse"), ("text", "text")], "model": "gpt-4"},
    {
        "era": 2023,
        "turns": [("text", "browse_error"), ("attachment", "text")],
        "title_null": True,
        "model": "text-davinci-002-render-sha",
    },
    {
        "era": 2024,
        "turns": [("text", "dalle"), ("upload", "text")],
        "gizmo": "gpt",
        "model": "gpt-4o",
    },
    {
        "era": 2024,
        "turns": [("text", "python"), ("text", "text"), ("text", "text")],
        "edit_fork": True,
        "current_on_alt": True,
        "interrupted": True,
    },
    {
        "era": 2024,
        "turns": [("text", "text"), ("text", "bio")],
        "regen_fork": True,
        "archived": True,
    },
    {
        "era": 2025,
        "turns": [("text", "reasoning"), ("text", "web")],
        "custom_ctx": True,
        "model": "o3",
    },
    {
        "era": 2025,
        "turns": [("upload", "image_gen"), ("voice", "text")],
        "starred": True,
        "missing_image": True,
    },
    {
        "era": 2025,
        "turns": [("text", "unknown"), ("text", "reasoning")],
        "model": "gpt-5-thinking",
        "dangling": True,
        "lang": "ja",
    },
    {
        "era": 2025,
        "turns": [("upload", "text"), ("text", "text")],
        "lang": "fr",
        "crlf": True,
        "regen_fork": True,
    },
    {
        "era": 2025,
        "turns": [("text", "text"), ("text", "python")],
        "lang": "de",
        "gizmo": "project",
        "edit_fork": True,
        "interrupted": True,
    },
    {"era": 2026, "turns": [("video", "text"), ("text", "web")], "model": "gpt-5"},
)

_ERA_WEIGHTS = {
    "single": {2023: 2, 2024: 3.5, 2025: 4.5},
    "sharded": {2023: 1, 2024: 2.5, 2025: 3.5, 2026: 3},
}
_MODEL_TABLE: dict[int, tuple[tuple[str, float], ...]] = {
    2023: (("text-davinci-002-render-sha", 6), ("gpt-4", 4)),
    2024: (("gpt-4o", 5), ("gpt-4", 1.5), ("text-davinci-002-render-sha", 1.5), ("gpt-4o-mini", 2)),
    2025: (
        ("gpt-4o", 4.5),
        ("o3", 1),
        ("o4-mini", 1),
        ("gpt-4-5", 0.5),
        ("gpt-5", 2),
        ("gpt-5-thinking", 1),
    ),
    2026: (("gpt-5", 5), ("gpt-5-thinking", 3), ("gpt-4o", 2)),
}
_ASSISTANT_TABLE: dict[int, tuple[tuple[str, float], ...]] = {
    2023: (("text", 80), ("browse", 7), ("browse_error", 2), ("python", 9), ("dalle", 2)),
    2024: (
        ("text", 72),
        ("python", 8),
        ("browse", 5),
        ("browse_error", 1),
        ("dalle", 8),
        ("bio", 6),
    ),
    2025: (
        ("text", 60),
        ("reasoning", 12),
        ("web", 10),
        ("python", 6),
        ("image_gen", 6),
        ("bio", 6),
    ),
}
_USER_TABLE: dict[int, tuple[tuple[str, float], ...]] = {
    2023: (("text", 95), ("attachment", 5)),
    2024: (("text", 85), ("upload", 10), ("attachment", 5)),
    2025: (("text", 78), ("upload", 10), ("voice", 7), ("attachment", 5)),
}
_REASONING_MODELS = ("o3", "o4-mini", "gpt-5-thinking")


_Weighted = tuple[tuple[str, ...], tuple[float, ...]]


def _cumulative(table: tuple[tuple[str, float], ...]) -> _Weighted:
    keys = tuple(k for k, _ in table)
    running = 0.0
    cum = []
    for _, weight in table:
        running += weight
        cum.append(running)
    return keys, tuple(cum)


def _weighted(rng: random.Random, table: _Weighted) -> str:
    return rng.choices(table[0], cum_weights=table[1])[0]


_MODELS = {era: _cumulative(table) for era, table in _MODEL_TABLE.items()}
_ASSISTANT_KINDS = {era: _cumulative(table) for era, table in _ASSISTANT_TABLE.items()}
_USER_KINDS = {era: _cumulative(table) for era, table in _USER_TABLE.items()}

# The varied profile: more uploads (of several images each) and about twice the tool turns.
_VARIED_ASSISTANT_TABLE: dict[int, tuple[tuple[str, float], ...]] = {
    2023: (("text", 60), ("browse", 12), ("browse_error", 3), ("python", 10),
           ("python_steps", 10), ("dalle", 5)),
    2024: (("text", 50), ("python", 8), ("python_steps", 12), ("browse", 8),
           ("browse_error", 2), ("dalle", 12), ("bio", 8)),
    2025: (("text", 40), ("reasoning", 14), ("web", 14), ("python", 6), ("python_steps", 10),
           ("image_gen", 10), ("bio", 6)),
}  # fmt: skip
_VARIED_USER_TABLE: dict[int, tuple[tuple[str, float], ...]] = {
    2023: (("text", 90), ("attachment", 10)),
    2024: (("text", 68), ("upload", 25), ("attachment", 7)),
    2025: (("text", 60), ("upload", 25), ("voice", 8), ("attachment", 7)),
}
_VARIED_ASSISTANT_KINDS = {e: _cumulative(t) for e, t in _VARIED_ASSISTANT_TABLE.items()}
_VARIED_USER_KINDS = {e: _cumulative(t) for e, t in _VARIED_USER_TABLE.items()}


# --------------------------------------------------------------------------- conversations


@dataclass
class _Turn:
    user: str
    answer: str  # first assistant node of the turn
    leaf: str
    simple: bool  # the answer is a plain text reply directly under the user node


class _Conv:
    """Builds one conversation's mapping tree, era by era."""

    def __init__(self, gen: _Generator, plan: _Plan) -> None:
        self.g = gen
        self.rng = gen.rng
        self.ids = gen.ids
        self.text = gen.text
        self.plan = plan
        self.era = plan.era
        self.slim = gen.sharded and plan.era <= 2024
        self.t = _ERA_START[plan.era] + self.rng.uniform(0, _ERA_DAYS[plan.era] * 86400)
        self.t_start = self.t
        self.model = plan.model or _weighted(self.rng, _MODELS[plan.era])
        self.gizmo = self._gizmo_id()
        self.mapping: dict[str, Json] = {}
        self.kids: dict[str, list[str]] = {}
        self.parent_of: dict[str, str | None] = {}
        self.time_of: dict[str, float] = {}
        self.request = ""
        self.exchange = ""
        self.urls: list[str] = []
        self.missing_pending = plan.missing_image
        self.last_attachment: Json = {}
        self.cid = self.ids.dated_uuid(self.t) if plan.era >= 2025 else self.ids.uuid()

    # -- tree plumbing

    def _gizmo_id(self) -> str | None:
        if self.plan.gizmo == "gpt":
            return "g-" + self.ids.base62(9)
        if self.plan.gizmo == "project":
            return "g-p-" + self.ids.hex32()
        return None

    def tick(self, lo: float = 2.0, hi: float = 40.0) -> float:
        self.t += self.rng.uniform(lo, hi)
        return round(self.t, 6)

    def node(self, nid: str, parent: str | None, message: Json | None, first: bool) -> str:
        node: Json = {"id": nid, "message": message, "parent": parent}
        kids: list[str] = []
        self.kids[nid] = kids
        if not self.g.sharded:
            node["children"] = kids
        self.mapping[nid] = node
        self.parent_of[nid] = parent
        if parent is not None:
            siblings = self.kids[parent]
            if first:
                siblings.insert(0, nid)
            else:
                siblings.append(nid)
        return nid

    def new_id(self, role: str) -> str:
        nid = self.ids.uuid()
        return "aaa2" + nid[4:] if role == "user" and self.era <= 2024 else nid

    def add(
        self,
        parent: str,
        role: str,
        content: Json,
        *,
        name: str | None = None,
        recipient: str = "all",
        meta: Json | None = None,
        status: str = "finished_successfully",
        end_turn: bool | None = None,
        weight: float = 1.0,
        channel: str | None = None,
        when: float | None = None,
        null_time: bool = False,
        first: bool = False,
    ) -> str:
        nid = self.new_id(role)
        created = None if null_time else self.tick() if when is None else when
        self.time_of[nid] = self.t if created is None else created
        metadata = self.base_meta(role, parent)
        if meta:
            metadata.update(meta)
        message: Json = {
            "id": nid,
            "author": {"role": role, "name": name, "metadata": {}},
            "create_time": created,
            "update_time": None,
            "content": content,
            "status": status,
            "end_turn": end_turn,
            "weight": weight,
            "metadata": metadata,
            "recipient": recipient,
        }
        if self.era >= 2025:
            message["channel"] = channel
        if self.slim:
            message = _slim(message, parent)
        return self.node(nid, parent, message, first)

    def base_meta(self, role: str, parent: str) -> Json:
        era = self.era
        if role == "user":
            if era == 2023:
                return {"timestamp_": "absolute", "message_type": None}
            return {"request_id": self.request, "timestamp_": "absolute", "message_type": None}
        if role == "system":
            return {}
        meta: Json = {"message_type": None, "model_slug": self.model}
        if era >= 2024:
            meta["default_model_slug"] = self.model
            meta["parent_id"] = parent
            meta["request_id"] = self.request
        if era == 2024:
            meta["gizmo_id"] = self.gizmo
            meta["pad"] = "A" * self.rng.randint(8, 40)
        if era >= 2025:
            meta["message_type"] = "next"
            meta["turn_exchange_id"] = self.exchange
        meta["timestamp_"] = "absolute"
        return meta

    def final_meta(self) -> Json:
        meta: Json = {"is_complete": True, "citations": []}
        if self.era == 2023:
            meta["finish_details"] = {"type": "stop", "stop": "<|im_end|>"}
            del meta["citations"]
        elif self.era == 2024:
            meta["finish_details"] = {"type": "stop", "stop_tokens": [100260]}
        else:
            meta["finish_details"] = {"type": "stop", "stop_tokens": [200002]}
            meta["content_references"] = []
        return meta

    # -- the whole conversation

    def build(self) -> Json:
        root = self._root()
        parent = self._preamble(root)
        turns: list[_Turn] = []
        for user_kind, answer_kind in self.plan.turns:
            turn = self.turn(parent, user_kind, answer_kind)
            turns.append(turn)
            parent = turn.leaf
        current = turns[-1].leaf
        for _ in range(self.plan.forks):
            if self.plan.edit_fork:
                self._edit_fork(turns)
            if self.plan.regen_fork:
                self._regen_fork(turns)
        if self.plan.interrupted and not self.plan.edit_fork:
            current = self._interrupted_tail(current)
        if self.plan.dangling:
            current = self.ids.uuid()
        return self._envelope(current)

    def _root(self) -> str:
        if self.era >= 2025 and self.rng.random() < 0.1:
            rid = "client-created-root"
        else:
            rid = self.ids.uuid()
            if self.era <= 2024:
                rid = "aaa1" + rid[4:]
        return self.node(rid, None, None, False)

    def _preamble(self, root: str) -> str:
        """Hidden system node(s) and, in 2025+, custom instructions."""
        if self.era == 2023:
            return self.add(root, "system", _text(""), end_turn=True, when=round(self.t, 6))
        hidden = {"is_visually_hidden_from_conversation": True}
        weight = 0.0 if self.era >= 2025 else 0
        parent = self.add(
            root, "system", _text(""), end_turn=True, weight=weight, meta=hidden, null_time=True
        )
        if self.era >= 2025 and (self.plan.custom_ctx or self.rng.random() < 0.2):
            parent = self._custom_instructions(parent)
            parent = self.add(
                parent,
                "system",
                _text(""),
                meta={
                    **hidden,
                    "is_contextual_answers_system_message": True,
                    "contextual_answers_message_type": "identity_prompt",
                },
                null_time=True,
            )
        return parent

    def _custom_instructions(self, parent: str) -> str:
        about_user = self.rng.choice(_ABOUT_USER)
        about_model = self.rng.choice(_ABOUT_MODEL)
        content = {
            "content_type": "user_editable_context",
            "user_profile": "The user shared this about themselves; use it only when it is "
            f"relevant to the request.\nUser profile:\n```{about_user}```",
            "user_instructions": "The user asked for answers to follow these preferences "
            f"unless a request says otherwise:\n```{about_model}```",
        }
        meta = {
            "is_visually_hidden_from_conversation": True,
            "user_context_message_data": {
                "about_user_message": about_user,
                "about_model_message": about_model,
            },
            "is_user_system_message": True,
        }
        return self.add(parent, "user", content, meta=meta)

    def _envelope(self, current: str) -> Json:
        g, plan, era = self.g, self.plan, self.era
        cid = self.cid
        title = None if plan.title_null else self.text.title(plan.topic, plan.lang)
        if title and not plan.title_null and self.rng.random() < 0.03:
            title = "New chat"
        mapping = self.mapping
        if not g.sharded and self.rng.random() < 0.15:
            mapping = dict(reversed(mapping.items()))
        conv: Json = {
            "title": title,
            "create_time": round(self.t_start, 6),
            "update_time": round(self.t, 6),
            "mapping": mapping,
            "moderation_results": [],
            "current_node": current,
            "plugin_ids": None,
        }
        modern = era >= 2025 or g.sharded
        if era >= 2024 or g.sharded:
            conv["conversation_id"] = cid
            conv["conversation_template_id"] = self.gizmo
            conv["gizmo_id"] = self.gizmo
            if modern:
                conv["gizmo_type"] = _GIZMO_TYPE.get(plan.gizmo)
            conv["is_archived"] = plan.archived
            if modern:
                conv["is_starred"] = True if plan.starred else None
            conv["safe_urls"] = self.urls
            if modern:
                conv["blocked_urls"] = []
            conv["default_model_slug"] = self.model
        if modern:
            conv.update(_MODERN_FLAGS)
        if g.sharded:
            conv["pinned_time"] = round(self.t, 3) if plan.starred else None
        conv["id"] = cid
        return conv

    # -- turns

    def new_turn(self, gap: bool = True) -> None:
        self.request = self.ids.request_id()
        self.exchange = self.ids.uuid() if self.era >= 2025 else ""
        if gap:
            self.t += self.rng.uniform(20, 900)

    def turn(self, parent: str, user_kind: str, answer_kind: str) -> _Turn:
        self.new_turn()
        user = self.user_message(parent, user_kind)
        if self.rng.random() < _UNKNOWN_TURN_RATE:
            answer_kind = "unknown"
        if answer_kind == "text" and user_kind == "voice":
            answer_kind = "voice"
        answer, leaf = _ANSWERS[answer_kind](self, user)
        return _Turn(user, answer, leaf, answer_kind == "text")

    def user_message(self, parent: str, kind: str, first: bool = False) -> str:
        topic, lang = self.plan.topic, self.plan.lang
        prompt = self.text.prompt(topic, lang)
        if self.plan.crlf and "\n" not in prompt:
            prompt += "\r\n\r\n" + self.text.code(topic, crlf=True)[1]
        meta: Json = {}
        if kind == "upload":
            images, attached = [], []
            for _ in range(self.plan.images):
                images.append(self.upload_image())
                attached.append(self.last_attachment)
            content = _multimodal([*images, prompt])
            meta["attachments"] = attached
        elif kind == "voice":
            content = _multimodal(self.audio_parts(prompt, "in"))
            meta["voice_mode_message"] = True
        elif kind in ("attachment", "video"):
            content = _text(prompt)
            meta["attachments"] = [self.document() if kind == "attachment" else self.video()]
        else:
            content = _text(prompt)
        return self.add(parent, "user", content, meta=meta or None, first=first)

    # -- media references

    def take_missing(self) -> bool:
        forced, self.missing_pending = self.missing_pending, False
        return forced

    def upload_image(self) -> Json:
        g = self.g
        kind = g.next_upload_kind()
        ext = "jpeg" if kind == "jpeg" else "png"
        name = self.rng.choice(_UPLOAD_NAMES).format(n=self.rng.randint(1000, 9999), ext=ext)
        sediment = self.era >= 2026 or (self.era == 2025 and self.rng.random() < 0.5)
        if sediment:
            fid = "file_" + self.ids.hex32()
            pointer = "sediment://" + fid
        else:
            fid = "file-" + self.ids.base62(22)
            pointer = "file-service://" + fid
        single = f"{fid}-{name}"
        blob = g.add_image(kind, single, f"{fid}.dat", name, self.take_missing())
        self.last_attachment = {
            "id": fid,
            "size": len(blob),
            "name": name,
            "mime_type": f"image/{ext}",
            "width": _DIMS[kind],
            "height": _DIMS[kind],
        }
        g.library_file(fid, name, f"image/{ext}", len(blob), self.t)
        return _image_part(pointer, blob, _DIMS[kind], {})

    def document(self) -> Json:
        fid = "file-" + self.ids.base62(22)
        name = self.rng.choice(
            (
                "quarterly-report.pdf",
                "notes.docx",
                "lease agreement.pdf",
                "data_export.csv",
                "slides_v3.pptx",
            )
        )
        return {
            "id": fid,
            "size": self.rng.randint(20_000, 4_000_000),
            "name": name,
            "mime_type": _MIME.get(name.rsplit(".", 1)[1], "application/octet-stream"),
            "file_token_size": self.rng.randint(500, 30_000),
        }

    def video(self) -> Json:
        fid = "file_" + self.ids.hex32()
        name = f"clip_{self.rng.randint(100, 999)}.mp4"
        blob = self.g.add_video(f"{fid}.dat", name, self.rng.randint(0, 255))
        self.g.library_file(fid, name, "video/mp4", len(blob), self.t)
        return {"id": fid, "size": len(blob), "name": name, "mime_type": "video/mp4"}

    def audio_parts(self, text: str, direction: str) -> list[Any]:
        duration = round(self.rng.uniform(1.5, 30.0), 2)
        return [
            {
                "content_type": "audio_transcription",
                "text": text,
                "direction": direction,
                "decoding_id": None,
            },
            {
                "content_type": "audio_asset_pointer",
                "asset_pointer": "sediment://file_" + self.ids.hex32(),
                "size_bytes": int(duration * 48_000),
                "format": "wav",
                "metadata": {
                    "start_timestamp": None,
                    "end_timestamp": None,
                    "pretokenized_vq": None,
                    "interruptions": None,
                    "original_audio_source": None,
                    "transcription": None,
                    "word_transcription": None,
                    "start": 0.0,
                    "end": duration,
                },
            },
        ]

    # -- forks

    def _edit_fork(self, turns: list[_Turn]) -> None:
        """A user-edit fork: a sibling user message with its own (short) continuation."""
        turn = self.rng.choice(turns)
        parent = self.parent_of[turn.user]
        assert parent is not None
        on_alt = self.plan.current_on_alt
        saved = self.t
        if on_alt:
            self.t = self.time_of[turn.user] - self.rng.uniform(60, 600)
        self.new_turn(gap=False)
        user = self.user_message(parent, "text", first=on_alt)
        leaf = self.answer_text(user, interrupted=self.plan.interrupted)[1]
        if not self.plan.interrupted and self.rng.random() < 0.5:
            self.turn(leaf, "text", "text")
        self.t = max(saved, self.t) if not on_alt else saved

    def _regen_fork(self, turns: list[_Turn]) -> None:
        """A regenerate fork: a sibling assistant answer to the same user message."""
        simple = [t for t in turns if t.simple] or turns[:1]
        turn = self.rng.choice(simple)
        on_alt = self.plan.current_on_alt or self.rng.random() < 0.5
        saved = self.t
        if on_alt:
            self.t = self.time_of[turn.user]
        self.answer_text(turn.user, first=on_alt)
        self.t = saved if on_alt else self.t

    def _interrupted_tail(self, parent: str) -> str:
        self.new_turn()
        user = self.user_message(parent, "text")
        return self.answer_text(user, interrupted=True)[1]

    # -- answers (each returns (first assistant node, leaf))

    def answer_text(
        self, parent: str, *, interrupted: bool = False, first: bool = False
    ) -> tuple[str, str]:
        body = self.text.answer(self.plan.topic, self.plan.lang, self.plan.crlf)
        meta = self.final_meta()
        status = "finished_successfully"
        end_turn: bool | None = True
        if interrupted:
            body = body[: max(24, len(body) // 3)]
            meta = {"finish_details": {"type": "interrupted"}, "citations": []}
            status, end_turn = "in_progress", None
        nid = self.add(
            parent,
            "assistant",
            _text(body),
            meta=meta,
            status=status,
            end_turn=end_turn,
            channel="final",
            first=first,
        )
        if not interrupted:
            self.g.maybe_feedback(nid, self)
        return nid, nid

    def answer_voice(self, parent: str) -> tuple[str, str]:
        body = self.text.sentences_of(self.plan.topic, self.plan.lang, self.rng.randint(2, 5))
        nid = self.add(
            parent,
            "assistant",
            _multimodal(self.audio_parts(body, "out")),
            meta={**self.final_meta(), "voice_mode_message": True},
            end_turn=True,
            channel="final",
        )
        return nid, nid

    def tool_call(self, parent: str, recipient: str, language: str, code: str) -> str:
        content = {
            "content_type": "code",
            "language": language,
            "response_format_name": None,
            "text": code,
        }
        return self.add(
            parent,
            "assistant",
            content,
            recipient=recipient,
            end_turn=False,
            meta={"finish_details": _TOOL_CALL_STOP[min(self.era, 2025)]},
        )

    def tool_result(self, parent: str, name: str, content: Json, meta: Json, **kw: Any) -> str:
        return self.add(parent, "tool", content, name=name, meta=meta, **kw)

    def answer_python(self, parent: str) -> tuple[str, str]:
        _, code = self.text.code(self.plan.topic)
        if not code.startswith(("import", "def", "class")):
            code = (
                "import statistics\n\nvalues = [3, 1, 4, 1, 5, 9, 2, 6]\n"
                "print(statistics.mean(values), statistics.median(values))"
            )
        call = self.tool_call(parent, "python", "python", code)
        failed = self.rng.random() < 0.15
        output = (
            'Traceback (most recent call last):\n  File "<stdin>", line 3\n'
            "NameError: name 'values' is not defined"
            if failed
            else f"{self.rng.randint(1, 999)}\n{self.rng.random():.4f}"
        )
        result = self.tool_result(
            call,
            "python",
            {"content_type": "execution_output", "text": output},
            {"is_complete": True, "aggregate_result": self._aggregate(code, output, failed)},
        )
        return call, self.answer_text(result)[1]

    def answer_python_steps(self, parent: str) -> tuple[str, str]:
        """Several code-interpreter rounds before the answer (an analysis session)."""
        rng = self.rng
        first = node = parent
        for step in range(rng.randint(2, 6)):
            _, code = self.text.code(self.plan.topic)
            call = self.tool_call(node, "python", "python", code)
            first = call if step == 0 else first
            output = "\n".join(
                f"{rng.choice(_IDENTS)}  {rng.randint(0, 9999):>6}  {rng.random():.4f}"
                for _ in range(rng.randint(1, 40))
            )
            node = self.tool_result(
                call,
                "python",
                {"content_type": "execution_output", "text": output},
                {"is_complete": True, "aggregate_result": self._aggregate(code, output, False)},
            )
            if self.rng.random() < 0.5:  # a short remark between the rounds
                node = self.add(node, "assistant", _text(self.text.sentences_of(
                    self.plan.topic, self.plan.lang, 1)), end_turn=False)  # fmt: skip
        return first, self.answer_text(node)[1]

    def _aggregate(self, code: str, output: str, failed: bool) -> Json:
        t = round(self.t, 6)
        return {
            "status": "failed" if failed else "success",
            "run_id": self.ids.uuid(),
            "start_time": t,
            "update_time": t + 0.4,
            "code": code,
            "end_time": t + 0.5,
            "final_expression_output": None if failed else output,
            "in_kernel_exception": {"name": "NameError", "traceback": [output]} if failed else None,
            "system_exception": None,
            "messages": [
                {
                    "message_type": "stream",
                    "time": t + 0.3,
                    "stream_name": "stdout",
                    "sender": "server",
                    "text": output,
                }
            ],
            "jupyter_messages": [
                {
                    "msg_type": "status",
                    "parent_header": {"msg_id": self.ids.hex32(), "version": "5.3"},
                    "content": {"execution_state": "idle"},
                }
            ],
            "timeout_triggered": None,
        }

    def _results(self, n: int) -> list[tuple[str, str, str, str]]:
        """n fake search hits: (title, url, domain, snippet)."""
        hits = []
        for _ in range(n):
            domain = self.rng.choice(_DOMAINS)
            slug = self.rng.choice(_TOPICS[self.plan.topic][1]).replace(" ", "-").lower()
            url = f"https://{domain}/{slug}-{self.rng.randint(10, 9999)}"
            title = f"{slug.replace('-', ' ').title()} – {self.rng.choice(_HEADINGS)}"
            snippet = self.text.sentences_of(self.plan.topic, "en", 2)
            hits.append((title, url, domain, snippet))
            self.urls.append(url)
        return hits

    def answer_browse(self, parent: str) -> tuple[str, str]:
        """2023-24 browsing: search → tether_browsing_display → quote → cited answer."""
        hits = self._results(self.rng.randint(3, 6))
        query = _TOPICS[self.plan.topic][0]
        call = self.tool_call(parent, "browser", "unknown", f'search("{query}")')
        listing = "\n".join(f"【{i}†{t}†{d}】\n{s}" for i, (t, _, d, s) in enumerate(hits))
        cite_list = [
            {"type": "webpage", "title": t, "url": u, "text": s, "pub_date": None, "extra": None}
            for t, u, _, s in hits
        ]
        cite_meta = {
            "citation_format": {"name": "tether_og"},
            "metadata_list": cite_list,
            "original_query": None,
        }
        shown = self.tool_result(
            call,
            "browser",
            {
                "content_type": "tether_browsing_display",
                "result": listing,
                "summary": None,
                "assets": None,
                "tether_id": None,
            },
            {
                "_cite_metadata": cite_meta,
                "command": "search",
                "args": [query],
                "status": "finished",
            },
            weight=0.0,
        )
        pick = self.rng.randrange(len(hits))
        title, url, domain, snippet = hits[pick]
        click = self.tool_call(shown, "browser", "unknown", f"quote_lines({pick}, {pick + 12})")
        quote = self.tool_result(
            click,
            "browser",
            {
                "content_type": "tether_quote",
                "url": url,
                "domain": domain,
                "text": snippet,
                "title": title,
            },
            {"_cite_metadata": {**cite_meta, "metadata_list": [cite_list[pick]]}},
            weight=0.0,
        )
        return call, self._cited_2023(quote, cite_list[pick])

    def _cited_2023(self, parent: str, cite: Json) -> str:
        body = self.text.answer(self.plan.topic, "en")
        idx = self.rng.randint(2, 40)
        marker = f"【{idx}†source】"
        cut = body.find(".") + 1 or len(body)
        body = body[:cut] + marker + body[cut:]
        meta = self.final_meta()
        meta["citations"] = [
            {
                "start_ix": cut,
                "end_ix": cut + len(marker),
                "citation_format_type": "tether_og",
                "metadata": {
                    **cite,
                    "extra": {
                        "cited_message_idx": idx,
                        "search_result_idx": None,
                        "evidence_text": "source",
                    },
                },
            }
        ]
        meta["_cite_metadata"] = {
            "citation_format": {"name": "tether_og"},
            "metadata_list": [cite],
            "original_query": None,
        }
        return self.add(parent, "assistant", _text(body), meta=meta, end_turn=True)

    def answer_browse_error(self, parent: str) -> tuple[str, str]:
        domain = self.rng.choice(_DOMAINS)
        call = self.tool_call(parent, "browser", "unknown", f'open_url("https://{domain}/")')
        err = self.tool_result(
            call,
            "browser",
            {
                "content_type": "system_error",
                "name": "tool_error",
                "text": "Error when executing command "
                f"`open_url(https://{domain}/)`\nFailed to fetch page.",
            },
            {"command": "open_url", "status": "failed"},
        )
        return call, self.answer_text(err)[1]

    def answer_web(self, parent: str) -> tuple[str, str]:
        """2025 search: web.run call → sonic_webpage results → answer with U+E200 markers."""
        hits = self._results(self.rng.randint(1, 3))
        query = json.dumps({"search_query": [{"q": _TOPICS[self.plan.topic][0]}]})
        call = self.tool_call(parent, "web.run", "json", query)
        node = call
        for title, url, domain, snippet in hits:
            node = self.tool_result(
                node,
                "web.run",
                {
                    "content_type": "sonic_webpage",
                    "url": url,
                    "domain": domain,
                    "title": title,
                    "text": snippet + " " + snippet,
                    "snippet": snippet,
                    "pub_timestamp": round(self.t - 86400 * 30, 3),
                },
                {},
                weight=0.0,
            )
        return call, self._cited_2025(node, hits)

    def _cited_2025(self, parent: str, hits: list[tuple[str, str, str, str]]) -> str:
        body = self.text.answer(self.plan.topic, self.plan.lang)
        refs = []
        for i, (title, url, domain, snippet) in enumerate(hits):
            marker = f"\ue200cite\ue202turn0search{i}\ue201"
            cut = body.find("\n\n") if i == 0 else len(body)
            cut = len(body) if cut < 0 else cut
            body = body[:cut] + " " + marker + body[cut:]
            ref = {"turn_index": 0, "ref_type": "search", "ref_index": i}
            refs.append((marker, cut + 1, ref, title, url, domain, snippet))
        content_refs = [
            {
                "matched_text": m,
                "start_idx": s,
                "end_idx": s + len(m),
                "refs": [r],
                "alt": f"([{d}]({u}))",
                "prompt_text": None,
                "type": "grouped_webpages",
                "items": [
                    {
                        "title": t,
                        "url": u,
                        "pub_date": None,
                        "snippet": sn,
                        "attribution": d,
                        "refs": [r],
                    }
                ],
                "status": "done",
                "error": None,
                "style": None,
            }
            for m, s, r, t, u, d, sn in refs
        ]
        groups = [
            {
                "type": "search_result_group",
                "domain": d,
                "entries": [
                    {
                        "type": "search_result",
                        "url": u,
                        "title": t,
                        "snippet": sn,
                        "ref_id": r,
                        "pub_date": None,
                        "attribution": d,
                    }
                ],
            }
            for _, _, r, t, u, d, sn in refs
        ]
        meta = {
            **self.final_meta(),
            "content_references": content_refs,
            "search_result_groups": groups,
        }
        return self.add(parent, "assistant", _text(body), meta=meta, end_turn=True, channel="final")

    def answer_dalle(self, parent: str) -> tuple[str, str]:
        prompt = f"A watercolor illustration of {_TOPICS[self.plan.topic][0]}, soft light"
        call = self.tool_call(
            parent,
            "dalle.text2im",
            "json",
            pretty_json({"size": "1024x1024", "n": 1, "prompt": prompt}),
        )
        fid = "file-" + self.ids.base62(22)
        uid = self.ids.uuid()
        blob = self.g.add_image(
            "webp",
            f"dalle-generations/{fid}-{uid}.webp",
            f"{fid}.dat",
            f"{uid}.webp",
            self.take_missing(),
        )
        dalle = {
            "gen_id": self.ids.base62(16),
            "prompt": prompt,
            "seed": self.rng.getrandbits(31),
            "parent_gen_id": None,
            "edit_op": None,
            "serialization_title": "DALL-E generation metadata",
        }
        image = _image_part("file-service://" + fid, blob, 1, {"dalle": dalle})
        shown = self.tool_result(call, "dalle.text2im", _multimodal([image]), {})
        note = self.tool_result(
            shown,
            "dalle.text2im",
            _text("Image shown to the user. Do not describe it again or add download links."),
            {},
        )
        return call, self.answer_text(note)[1]

    def answer_image_gen(self, parent: str) -> tuple[str, str]:
        prompt = f"Poster about {_TOPICS[self.plan.topic][0]}, flat colours"
        call = self.tool_call(
            parent, _IMAGE_GEN, "json", json.dumps({"prompt": prompt, "size": "1024x1024"})
        )
        fid = "file_" + self.ids.hex32()
        uid = self.ids.uuid()
        user_dir = self.g.user_id
        blob = self.g.add_image(
            "png",
            f"{user_dir}/{fid}-{uid}.png",
            f"{fid}.dat",
            f"{user_dir}/{uid}.png",
            self.take_missing(),
        )
        generation = {
            "gen_id": self.ids.uuid(),
            "gen_size": "image",
            "seed": None,
            "parent_gen_id": None,
            "height": 8,
            "width": 8,
            "transparent_background": False,
            "serialization_title": "Image Generation metadata",
        }
        image = _image_part("sediment://" + fid, blob, 8, {"generation": generation})
        shown = self.tool_result(
            call, _IMAGE_GEN, _multimodal([image]), {"image_gen_title": prompt[:40]}
        )
        return call, self.answer_text(shown)[1]

    def answer_bio(self, parent: str) -> tuple[str, str]:
        call = self.tool_call(parent, "bio", "unknown", self.rng.choice(_MEMORIES))
        done = self.tool_result(
            call, "bio", _text("Model set context updated."), {}, recipient="assistant"
        )
        return call, self.answer_text(done)[1]

    def answer_reasoning(self, parent: str) -> tuple[str, str]:
        model = (
            self.model
            if self.model in _REASONING_MODELS
            else ("gpt-5-thinking" if self.era >= 2026 else "o3")
        )
        saved, self.model = self.model, model
        steps = [
            {
                "summary": self.rng.choice(_HEADINGS),
                "content": self.text.sentences_of(self.plan.topic, "en", 3),
                "chunks": [],
                "finished": True,
            }
            for _ in range(self.rng.randint(1, 3))
        ]
        thoughts = self.add(
            parent,
            "assistant",
            {
                "content_type": "thoughts",
                "thoughts": steps,
                "source_analysis_msg_id": self.ids.uuid(),
            },
            meta={"reasoning_status": "is_reasoning"},
        )
        seconds = self.rng.randint(3, 90)
        recap = self.add(
            thoughts,
            "assistant",
            {"content_type": "reasoning_recap", "content": f"Thought for {seconds} seconds"},
            meta={"reasoning_status": "reasoning_ended", "finished_duration_sec": seconds},
        )
        leaf = self.answer_text(recap)[1]
        self.model = saved
        return thoughts, leaf

    def answer_unknown(self, parent: str) -> tuple[str, str]:
        """A content type no importer knows: must be kept raw, never dropped."""
        call = self.tool_call(
            parent, "computer.do", "json", json.dumps({"actions": [{"action": "screenshot"}]})
        )
        url = f"https://{self.rng.choice(_DOMAINS)}/"
        out = self.tool_result(
            call,
            "computer.do",
            {
                "content_type": "computer_output",
                "computer_id": "c-" + self.ids.hex32()[:12],
                "screenshot": None,
                "tether_id": None,
                "state": {"type": "browser_state", "url": url, "title": "Start page"},
                "is_ephemeral": False,
            },
            {},
        )
        return call, self.answer_text(out)[1]


_TOOL_CALL_STOP: dict[int, Json] = {
    2023: {"type": "stop", "stop": "<|im_end|>"},
    2024: {"type": "stop", "stop_tokens": [100265]},
    2025: {"type": "stop", "stop_tokens": [200007]},
}
_IMAGE_GEN = "t2uay3k.sj1i4kz"  # the tool name of GPT-4o image generation in exports
_GIZMO_TYPE = {"gpt": "gpt", "project": "snorlax"}
_MIME = {
    "pdf": "application/pdf",
    "csv": "text/csv",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_UPLOAD_NAMES = (
    "IMG_{n}.{ext}",
    "Screenshot {n}.{ext}",
    "photo_{n}.{ext}",
    "scan {n}.{ext}",
)
_MODERN_FLAGS: Json = {
    "conversation_origin": None,
    "is_read_only": None,
    "voice": None,
    "async_status": None,
    "disabled_tool_ids": [],
    "is_do_not_remember": False,
    "memory_scope": "global_enabled",
    "context_scopes": None,
    "sugar_item_id": None,
    "sugar_item_visible": False,
    "is_study_mode": False,
    "owner": None,
}
_ANSWERS = {
    "python_steps": _Conv.answer_python_steps,
    "text": _Conv.answer_text,
    "voice": _Conv.answer_voice,
    "python": _Conv.answer_python,
    "browse": _Conv.answer_browse,
    "browse_error": _Conv.answer_browse_error,
    "web": _Conv.answer_web,
    "dalle": _Conv.answer_dalle,
    "image_gen": _Conv.answer_image_gen,
    "bio": _Conv.answer_bio,
    "reasoning": _Conv.answer_reasoning,
    "unknown": _Conv.answer_unknown,
}


def _text(body: str) -> Json:
    return {"content_type": "text", "parts": [body]}


def _multimodal(parts: list[Any]) -> Json:
    return {"content_type": "multimodal_text", "parts": parts}


def _image_part(pointer: str, blob: bytes, dim: int, extra: Json) -> Json:
    meta: Json = {
        "dalle": None,
        "gizmo": None,
        "generation": None,
        "container_pixel_height": None,
        "container_pixel_width": None,
        "emu_omit_glimpse_image": None,
        "sanitized": True,
        "asset_pointer_link": None,
        "watermarked_asset_pointer": None,
    }
    meta.update(extra)
    return {
        "content_type": "image_asset_pointer",
        "asset_pointer": pointer,
        "size_bytes": len(blob),
        "width": dim,
        "height": dim,
        "fovea": None,
        "metadata": meta,
    }


def _slim(message: Json, parent: str) -> Json:
    """The 2026 re-export shape: only author{name,role}, content, create_time, id (+meta)."""
    author = message["author"]
    slim: Json = {
        "author": {"name": author["name"], "role": author["role"]},
        "content": message["content"],
        "create_time": message["create_time"],
        "id": message["id"],
    }
    if author["role"] == "assistant":
        slim["metadata"] = {
            "model_slug": message["metadata"].get("model_slug"),
            "parent_id": parent,
        }
    return slim


# --------------------------------------------------------------------------- generator


class _Generator:
    """Runs one export: plans conversations, streams them, writes the side files."""

    def __init__(
        self,
        sink: _Sink,
        layout: str,
        seed: int,
        era_mix: bool,
        images: bool,
        shard_bytes: int,
        profile: str = "default",
    ) -> None:
        self.sink = sink
        self.sharded = layout == "sharded"
        self.layout = layout
        self.varied = profile == "varied"
        self.rng = random.Random(seed)
        self.ids = _Ids(self.rng)
        self.text = _Text(self.rng, self.varied)
        self.blobs = _Blobs()
        self.era_mix = era_mix
        self.images = images
        self.shard_bytes = shard_bytes
        self.stats = GenStats()
        self.user_id = "user-" + self.ids.base62(24)
        self.pending: list[tuple[str, bytes]] = []
        self.asset_names: dict[str, str] = {}
        self.feedback: list[Json] = []
        self.shared: list[Json] = []
        self.library: list[Json] = []
        self._uploads = 0

    # -- run

    def run(self, target_bytes: int) -> GenStats:
        self.put_json("user.json", self.user_json())
        if self.sharded:
            self.put_json("user_settings.json", self.user_settings())
        writer = _ConvWriter(self)
        index = 0
        while writer.bytes_written < target_bytes or index == 0:
            writer.add(self.conversation(index))
            index += 1
        writer.close()
        self.stats.bytes_json = writer.bytes_written
        self.stats.shards = len(writer.shards)
        self.write_side_files()
        if self.sharded:
            self.write_manifest(writer.shards)
        self.stats.members = len(self.sink.sizes)
        return self.stats

    def conversation(self, index: int) -> Json:
        plan = self.plan(index)
        conv = _Conv(self, plan)
        obj = conv.build()
        self.stats.conversations += 1
        self.stats.messages += sum(1 for n in conv.mapping.values() if n["message"] is not None)
        self.stats.branches += sum(1 for kids in conv.kids.values() if len(kids) > 1)
        if self.rng.random() < 0.02 and len(self.shared) < 200:
            self.shared.append(
                {
                    "id": self.ids.uuid(),
                    "conversation_id": obj["id"],
                    "title": obj["title"],
                    "is_anonymous": True,
                }
            )
        return obj

    # -- plans

    def latest_era(self) -> int:
        return 2026 if self.sharded else 2025

    def plan(self, index: int) -> _Plan:
        coverage = [c for c in _COVERAGE if self.sharded or c["era"] <= 2025]
        if index < len(coverage):
            spec = dict(coverage[index])
            spec["topic"] = self.rng.randrange(len(_TOPICS))
            if not self.era_mix:
                spec["era"] = self.latest_era()
            return _Plan(**spec)
        return self.random_plan()

    def random_plan(self) -> _Plan:
        rng = self.rng
        if self.era_mix:
            weights = _ERA_WEIGHTS[self.layout]
            era = rng.choices(list(weights), weights=list(weights.values()))[0]
        else:
            era = self.latest_era()
        kinds = min(era, 2025)
        if self.varied:
            return self.varied_plan(era)
        n_turns = min(1 + int(rng.expovariate(1 / 3.5)), 40)
        turns = [
            (_weighted(rng, _USER_KINDS[kinds]), _weighted(rng, _ASSISTANT_KINDS[kinds]))
            for _ in range(n_turns)
        ]
        if self.sharded and era >= 2025 and rng.random() < 0.03:
            turns[0] = ("video", turns[0][1])
        roll = rng.random()
        lang = "fr" if roll < 0.03 else "de" if roll < 0.06 else "ja" if roll < 0.08 else "en"
        edit = rng.random() < 0.06
        return _Plan(
            era=era,
            turns=turns,
            topic=rng.randrange(len(_TOPICS)),
            lang=lang,
            edit_fork=edit,
            regen_fork=rng.random() < 0.06,
            current_on_alt=rng.random() < 0.6,
            interrupted=rng.random() < 0.03,
            dangling=rng.random() < 0.004,
            title_null=rng.random() < 0.03,
            gizmo=("" if era == 2023 or rng.random() > 0.08 else rng.choice(("gpt", "project"))),
            archived=era >= 2024 and rng.random() < 0.05,
            starred=era >= 2025 and rng.random() < 0.04,
            crlf=rng.random() < 0.03,
        )

    def varied_plan(self, era: int) -> _Plan:
        """The varied profile: quick chats, long sessions, tool-heavy turns, many forks."""
        rng = self.rng
        kinds = min(era, 2025)
        roll = rng.random()
        if roll < 0.35:  # a quick exchange
            n_turns = rng.randint(1, 3)
        elif roll < 0.92:
            n_turns = min(1 + int(rng.expovariate(1 / 6)), 60)
        else:  # a long working session
            n_turns = rng.randint(30, 120)
        users, answers = _VARIED_USER_KINDS[kinds], _VARIED_ASSISTANT_KINDS[kinds]
        turns = [(_weighted(rng, users), _weighted(rng, answers)) for _ in range(n_turns)]
        roll = rng.random()
        lang = "fr" if roll < 0.04 else "de" if roll < 0.08 else "ja" if roll < 0.12 else "en"
        return _Plan(
            era=era,
            turns=turns,
            topic=rng.randrange(len(_TOPICS)),
            lang=lang,
            edit_fork=rng.random() < 0.3,
            regen_fork=rng.random() < 0.4,
            current_on_alt=rng.random() < 0.6,
            interrupted=rng.random() < 0.05,
            dangling=rng.random() < 0.004,
            title_null=rng.random() < 0.05,
            gizmo=("" if era == 2023 or rng.random() > 0.15 else rng.choice(("gpt", "project"))),
            archived=era >= 2024 and rng.random() < 0.05,
            starred=era >= 2025 and rng.random() < 0.04,
            crlf=rng.random() < 0.03,
            forks=1 + int(rng.random() * 3) + n_turns // 20,
            images=1 + int(rng.random() * 4),
        )

    # -- media

    def next_upload_kind(self) -> str:
        self._uploads += 1
        return "png" if self._uploads % 2 else "jpeg"

    def add_image(
        self, kind: str, single_name: str, dat_name: str, original: str, force_missing: bool
    ) -> bytes:
        """Register one image referenced by a pointer; returns its bytes (for size_bytes)."""
        if self.varied:  # every image its own bytes, as in a real export
            rgb = self.rng.getrandbits(24).to_bytes(3, "big")
            blob = _MAKERS[kind]((rgb[0], rgb[1], rgb[2]))
        else:
            blob = self.blobs.get(kind, self.rng.randrange(len(_PALETTE)))
        unlucky = self.rng.random() < 0.03
        if force_missing or unlucky or not self.images:
            self.stats.images_missing += 1
            return blob
        self.stats.images += 1
        self.queue(single_name, dat_name, original, blob)
        return blob

    def add_video(self, dat_name: str, original: str, colour: int) -> bytes:
        blob = self.blobs.get("mp4", colour)
        if self.images:
            self.stats.attachments += 1
            self.queue(dat_name, dat_name, original, blob)
        return blob

    def queue(self, single_name: str, dat_name: str, original: str, blob: bytes) -> None:
        if self.sharded:
            self.asset_names[dat_name] = original
            self.pending.append((dat_name, blob))
        else:
            self.pending.append((single_name, blob))

    def flush_blobs(self) -> None:
        for name, blob in self.pending:
            self.sink.put(name, blob)
        self.pending.clear()

    def library_file(self, fid: str, name: str, mime: str, size: int, when: float) -> None:
        if not self.sharded or len(self.library) >= 500:
            return
        self.library.append(
            {
                "file_id": fid,
                "file_name": name,
                "mime_type": mime,
                "file_size_bytes": size,
                "content_backing_kind": "sediment",
                "library_file_category": "image" if mime.startswith("image/") else "video",
                "created_at": _iso(when),
                "is_project": False,
            }
        )

    def maybe_feedback(self, message_id: str, conv: _Conv) -> None:
        roll = self.rng.random()  # the first answer always gets one, so samples have some
        if len(self.feedback) >= 500 or (self.feedback and roll >= 0.03):
            return
        good = self.rng.random() < 0.6
        body = (
            {"text": "Clear and correct.", "tags": []}
            if good
            else {"text": "It ignored my constraint.", "tags": ["not-helpful"]}
        )
        self.feedback.append(
            {
                "id": self.ids.uuid(),
                "conversation_id": conv.cid,
                "user_id": self.user_id,
                "rating": "thumbsUp" if good else "thumbsDown",
                "create_time": _iso(conv.t),
                "workspace_id": None,
                "content": json.dumps(body) if self.rng.random() < 0.7 else "{}",
                "storage_protocol": "zstd::1.5.5.1",
                "message_id": message_id,
            }
        )

    # -- side files

    def dumps(self, obj: Any) -> bytes:
        if self.sharded:
            return pretty_json(obj).encode("utf-8")
        return json.dumps(obj).encode("ascii")

    def put_json(self, name: str, obj: Any) -> None:
        self.sink.put(name, self.dumps(obj))

    def user_json(self) -> Json:
        return {
            "id": self.user_id,
            "email": f"{self.ids.base62(8).lower()}@example.com",
            "chatgpt_plus_user": True,
            "phone_number": None,
        }

    def user_settings(self) -> list[Json]:
        return [
            {
                "announcements": {"oai/apps/hasSeenOnboarding": True},
                "settings": {
                    "voice_name": "juniper",
                    "training_allowed": False,
                    "show_expanded_code_view": True,
                },
                "user_id": self.user_id,
            }
        ]

    def write_side_files(self) -> None:
        self.put_json("message_feedback.json", self.feedback)
        self.put_json("shared_conversations.json", self.shared)
        if self.sharded:
            self.put_json("conversation_asset_file_names.json", self.asset_names)
            self.put_json("library_files.json", self.library)
        else:
            self.put_json("model_comparisons.json", [])
        self.sink.put("chat.html", _CHAT_HTML.encode("ascii"))

    def write_manifest(self, shards: list[str]) -> None:
        """export_manifest.json, last: it lists every other member with its size."""
        files = [{"path": p, "size_bytes": s} for p, s in sorted(self.sink.sizes.items())]
        logical: Json = {
            "conversations.json": {"files": shards, "shard_count": len(shards), "sharded": True}
        }
        for path in sorted(self.sink.sizes):
            if path.endswith((".json", ".html")) and path not in shards:
                logical[path] = {"files": [path], "sharded": False}
        manifest = {
            "export_files": files,
            "logical_files": logical,
            "manifest_file": "export_manifest.json",
            "version": 1,
        }
        self.put_json("export_manifest.json", manifest)


_CHAT_HTML = """<!DOCTYPE html>
<html>
<head><meta charset="UTF-8"><title>ChatGPT Data Export</title></head>
<body>
<div id="root"></div>
<script>
// Synthetic export (freehold benchmarks/genexport.py): the real file embeds every
// conversation here as `var jsonData = [...]`; this stub keeps it empty.
var jsonData = [];
</script>
</body>
</html>
"""


def _iso(epoch: float) -> str:
    """ISO-8601 UTC timestamp with microseconds, without touching the local clock."""
    days, rem = divmod(epoch, 86400)
    y, m, d = _civil(int(days))
    secs = int(rem)
    micros = round((rem - secs) * 1_000_000) % 1_000_000
    hh, mm, ss = secs // 3600, secs // 60 % 60, secs % 60
    return f"{y:04d}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}.{micros:06d}+00:00"


def _civil(days: int) -> tuple[int, int, int]:
    """Days since 1970-01-01 → (year, month, day) (Howard Hinnant's algorithm)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (m <= 2), m, d


# --------------------------------------------------------------------------- API


def generate(
    out: Path,
    *,
    target_bytes: int,
    layout: str = "single",
    seed: int = 0,
    era_mix: bool = True,
    images: bool = True,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
    compresslevel: int | None = None,
    profile: str = "default",
) -> GenStats:
    """Write a synthetic ChatGPT export to ``out`` (a ``.zip`` file, or else a folder).

    Conversations are generated until at least ``target_bytes`` of conversations JSON has been
    written.  ``layout`` is ``"single"`` (2023-2025 ``conversations.json``) or ``"sharded"``
    (2026 ``conversations-NNN.json`` + ``export_manifest.json``; a shard is closed once it
    reaches ``shard_bytes``).  ``era_mix=False`` makes every conversation use the newest era of
    the layout.  ``images=False`` writes no media files (pointers stay, counted as missing).
    ``compresslevel`` (zip only): None = 6 up to 50 MB of JSON, 1 above; 0 = stored.
    ``profile`` picks the shape of the conversations (:data:`PROFILES`).
    """
    if layout not in ("single", "sharded"):
        raise ValueError(f"layout must be 'single' or 'sharded', not {layout!r}")
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, not {profile!r}")
    out = Path(out)
    if compresslevel is None:
        compresslevel = 1 if target_bytes > FAST_COMPRESSION_ABOVE else 6
    sink: _Sink
    if out.suffix.lower() == ".zip":
        sink = _ZipSink(out, compresslevel, _ZIP_DATE[layout])
    else:
        sink = _DirSink(out)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # the generator makes no reference cycles; the collector only costs time
    try:
        gen = _Generator(sink, layout, seed, era_mix, images, shard_bytes, profile)
        return gen.run(target_bytes)
    finally:
        sink.close()
        if gc_was_enabled:
            gc.enable()


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """'300KB' → 300_000, '64MiB' → 67_108_864, '1.5GB' → 1_500_000_000, '42' → 42."""
    match = _SIZE_RE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}")
    number, unit, binary = match.groups()
    base = 1024 if binary else 1000
    power = " kmgt".index(unit.lower() or " ")
    return int(float(number) * base**power)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("out", type=Path, help="OUT.zip for a zip, any other path for a folder")
    parser.add_argument(
        "--size",
        type=parse_size,
        default=parse_size("10MB"),
        help="conversations JSON to write, e.g. 300KB, 100MB, 2GB",
    )
    parser.add_argument("--layout", choices=("single", "sharded"), default="single")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shard-size", type=parse_size, default=DEFAULT_SHARD_BYTES)
    parser.add_argument("--no-era-mix", action="store_true")
    parser.add_argument("--no-images", action="store_true")
    parser.add_argument("--compresslevel", type=int, default=None, choices=range(10))
    parser.add_argument("--profile", choices=PROFILES, default="default")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    stats = generate(
        args.out,
        target_bytes=args.size,
        layout=args.layout,
        seed=args.seed,
        era_mix=not args.no_era_mix,
        images=not args.no_images,
        shard_bytes=args.shard_size,
        compresslevel=args.compresslevel,
        profile=args.profile,
    )
    elapsed = time.perf_counter() - started
    report: Json = asdict(stats)
    report["seconds"] = round(elapsed, 2)
    report["mb_per_s"] = round(stats.bytes_json / 1e6 / elapsed, 1) if elapsed else None
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
