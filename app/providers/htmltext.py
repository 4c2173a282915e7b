"""HTML descriptions as plain text: a small, deterministic rendering both providers share.

Google stores a description edited in its web UI as HTML ("<b>x</b><br>y"); Graph returns HTML
bodies by default. The canonical ``Event.description`` is the plain text a person reads, so the
HTML is kept beside it (``description_html``) for a lossless write-back and rendered here.

The rendering is deliberately simple, because a round trip compares it exactly:

- ``<br>`` is a line break;
- ``<p>``, ``<div>``, ``<li>``, ``<ul>``, ``<ol>``, ``<h1>``..``<h6>``, ``<tr>``, ``<table>``,
  ``<blockquote>``, ``<pre>``, ``<hr>`` (opening or closing) end a block: the next text starts on
  a new line, and several block edges in a row make one line break (none at the very start);
- a list item's text starts with "- ";
- comments and the content of ``<script>``/``<style>``/``<head>`` are dropped, every other tag is
  removed, and character references (``&amp;``, ``&#233;``) are decoded in text only;
- text between tags is kept as it is, whitespace and line breaks included.
"""

from __future__ import annotations

import html
import re
from typing import Final

__all__ = ["html_to_text", "looks_like_html"]

_TAG_NAMES: Final = (
    "a|abbr|b|big|blockquote|body|br|center|code|del|div|em|font|h[1-6]|head|hr|html|i|img|ins"
    "|li|mark|meta|ol|p|pre|s|small|span|strike|strong|style|sub|sup|table|tbody|td|th|thead"
    "|tr|tt|u|ul"
)
# A tag of a known element: "<b>", "</p>", "<br/>", "<a href='...'>". "a < b" or "<x@y.com>"
# are not tags, so plain text that merely contains angle brackets is not taken for HTML.
_KNOWN_TAG: Final = re.compile(rf"</?(?:{_TAG_NAMES})(?:\s[^<>]*)?/?>", re.IGNORECASE)

_TOKEN: Final = re.compile(
    r"<!--.*?(?:-->|\Z)"  # a comment (an unclosed one runs to the end)
    r"|<(?P<drop>script|style|head)\b[^>]*>.*?(?:</(?P=drop)\s*>|\Z)"
    r"|<(?P<close>/?)(?P<name>[a-zA-Z][a-zA-Z0-9]*)\b[^>]*>",
    re.IGNORECASE | re.DOTALL,
)
_BLOCKS: Final = frozenset(
    {"p", "div", "li", "ul", "ol", "tr", "table", "blockquote", "pre", "hr"}
    | {f"h{n}" for n in range(1, 7)}
)


def looks_like_html(text: str) -> bool:
    """True when ``text`` contains at least one tag of a common HTML element."""
    return _KNOWN_TAG.search(text) is not None


def html_to_text(markup: str) -> str:
    """Render ``markup`` as plain text by the rules in the module docstring. Never raises."""
    out: list[str] = []
    pending_break = False  # a block edge seen since the last text
    bullet = False
    pos = 0
    for m in _TOKEN.finditer(markup):
        pending_break, bullet = _emit(out, markup[pos : m.start()], pending_break, bullet)
        pos = m.end()
        name = (m.group("name") or "").lower()
        if name == "br":
            out.append("\n")
            pending_break = False
        elif name in _BLOCKS:
            pending_break = True
            if name == "li" and not m.group("close"):
                bullet = True
    _emit(out, markup[pos:], pending_break, bullet)
    return "".join(out)


def _emit(out: list[str], raw: str, pending_break: bool, bullet: bool) -> tuple[bool, bool]:
    if not raw:
        return pending_break, bullet
    if pending_break and out and not out[-1].endswith("\n"):
        out.append("\n")
    if bullet:
        out.append("- ")
    out.append(html.unescape(raw))
    return False, False
