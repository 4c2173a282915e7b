"""Google's batch envelope (``multipart/mixed``, api-spec §1.9), written and read directly.

google-api-python-client writes and reads every part with the ``email`` package: profiled, that
was about a third of Meridian's CPU on a first sync (0.2 ms to write one part, about as much to
read one). The parts are still the client's own requests (method, URL, headers and body as its
discovery document builds them); only the envelope is done here, in the format the client uses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

# Headers a part does not carry: the outer request's Authorization applies to every part (and
# is renewed in one place), we write Content-Length ourselves, and parts are never compressed.
_LEFT_OUT: Final = frozenset({"authorization", "content-length", "accept-encoding", "host"})
_BOUNDARY: Final = re.compile(r'boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_BLANK_LINE: Final = re.compile(rb"\r?\n\r?\n")


class MalformedBatch(Exception):
    """Google's answer is not a batch answer we can read."""


@dataclass(frozen=True)
class Part:
    """One request of a batch, as the client library built it."""

    method: str
    uri: str  # absolute: only its path and query are written into the part
    headers: Mapping[str, str]
    body: str | bytes | None = None


@dataclass(frozen=True)
class Answer:
    """One part of the answer: the status, headers (lower-case names) and body of a response."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def encode(parts: Sequence[Part], boundary: str, base_id: str) -> bytes:
    """The batch body; part ``n`` gets the Content-ID ``<base_id + n>``, as the client writes it."""
    out: list[bytes] = []
    for n, part in enumerate(parts):
        url = urlsplit(part.uri)
        target = url.path + (f"?{url.query}" if url.query else "")
        body = part.body.encode("utf-8") if isinstance(part.body, str) else part.body
        lines = [
            f"--{boundary}",
            "Content-Type: application/http",
            "Content-Transfer-Encoding: binary",
            f"Content-ID: <{base_id} + {n}>",
            "",
            f"{part.method} {target} HTTP/1.1",
            f"Host: {url.netloc}",
        ]
        lines += [f"{k}: {v}" for k, v in part.headers.items() if k.lower() not in _LEFT_OUT]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        lines += ["", ""]
        out.append("\r\n".join(lines).encode("utf-8") + (body or b"") + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


def decode(content_type: str, content: bytes, count: int, base_id: str) -> list[Answer]:
    """The answers to the ``count`` parts of a batch, in the order the parts were sent.

    Parts are matched by Content-ID (``<response-BASE + n>``), or by position where an answer
    has none; a part without an answer, or one we cannot read, makes the batch unreadable.
    """
    m = _BOUNDARY.search(content_type)
    if not content_type.lower().startswith("multipart/mixed") or m is None:
        raise MalformedBatch("the answer is not multipart/mixed")
    boundary = (m.group(1) or m.group(2)).encode()
    # A delimiter is a line break, "--" and the boundary: its line break belongs to it.
    pieces = re.split(rb"\r?\n--" + re.escape(boundary), b"\r\n" + content)
    found: dict[int, Answer] = {}
    for position, piece in enumerate(pieces[1:]):
        if piece.startswith(b"--"):
            break  # the close delimiter; what follows is the epilogue
        _, _, piece = piece.partition(b"\n")  # the rest of the delimiter line
        head, payload = _split(piece)
        index = _index(_headers(head).get("content-id"), base_id, position)
        found[index] = _response(payload)
    if sorted(found) != list(range(count)):
        raise MalformedBatch(f"{len(found)} answers to {count} requests")
    return [found[n] for n in range(count)]


def _split(data: bytes) -> tuple[bytes, bytes]:
    """Header lines and body, split at the first empty line."""
    if data.startswith((b"\r\n", b"\n")):
        return b"", data[2 if data.startswith(b"\r\n") else 1 :]
    m = _BLANK_LINE.search(data)
    if m is None:
        return data, b""
    return data[: m.start()], data[m.end() :]


def _headers(head: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    last = ""
    for line in head.decode("utf-8", "replace").splitlines():
        if line[:1] in (" ", "\t") and last:  # a folded continuation
            out[last] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        if sep:
            last = name.strip().lower()
            out[last] = value.strip()
    return out


def _index(content_id: str | None, base_id: str, position: int) -> int:
    if content_id is None:
        return position
    value = content_id.strip().removeprefix("<").removesuffix(">").removeprefix("response-")
    base, sep, n = value.rpartition(" + ")
    if not sep or base != base_id or not n.isdigit():
        raise MalformedBatch(f"unexpected Content-ID {content_id!r}")
    return int(n)


def _response(payload: bytes) -> Answer:
    status_line, _, rest = payload.partition(b"\n")
    words = status_line.decode("latin-1").split()
    if len(words) < 2 or not words[0].startswith("HTTP/") or not words[1].isdigit():
        raise MalformedBatch("a part has no HTTP status line")
    head, body = _split(rest)
    return Answer(int(words[1]), _headers(head), body)
