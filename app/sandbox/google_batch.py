"""``POST /batch/calendar/v3``: Google's multipart/mixed batch (api-spec.md §1.9).

Each part is an HTTP request that goes through the sandbox's full pipeline on its own (faults,
auth, quota, request log) via ``ctx.dispatch``; the envelope only splits and joins. Outer
headers other than ``Content-*`` apply to every part unless the part sets them itself.
"""

from __future__ import annotations

import re
import secrets
from http import HTTPStatus
from typing import cast

from app.sandbox import errors
from app.sandbox.httpcore import ApiError, Context, Headers, Request, Response

MAX_PARTS = 1000  # the Calendar batch guide's limit
_NOT_INHERITED = ("host", "content-length", "transfer-encoding", "connection", "expect")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_LINE_BREAK = re.compile(r"\r?\n")


def _bad(message: str) -> ApiError:
    return ApiError(400, "badRequest", message)


def _boundary(content_type: str) -> str | None:
    kind, _, params = content_type.partition(";")
    if kind.strip().lower() != "multipart/mixed":
        return None
    m = re.search(r'boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))', params, re.IGNORECASE)
    return (m.group(1) or m.group(2)) if m else None


def _head_body(data: bytes) -> tuple[bytes, bytes]:
    """Split header lines from the body at the first empty line (CRLF or bare LF)."""
    if data.startswith(b"\r\n"):
        return b"", data[2:]
    if data.startswith(b"\n"):
        return b"", data[1:]
    m = _BLANK_LINE.search(data)
    if m is None:
        return data, b""
    return data[: m.start()], data[m.end() :]


def _header_list(head: bytes) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for line in _LINE_BREAK.split(head.decode("utf-8", "replace")):
        if not line:
            continue
        if line[0] in " \t" and out:  # folded continuation line
            out[-1] = (out[-1][0], out[-1][1] + " " + line.strip())
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise _bad("Malformed header in batch part.")
        out.append((name.strip(), value.strip()))
    return out


def _split(body: bytes, marker: bytes, delimiter: re.Pattern[bytes]) -> list[bytes | None]:
    """``delimiter.split(body)``, where every delimiter match holds ``marker`` ("--boundary")
    at most two bytes after its start. The pattern starts with an alternation, so ``re`` tries
    it at every offset (1.5 ms for a batch of 50 inserts); here ``bytes.find`` proposes the
    offsets and the same pattern decides, leftmost first, so the pieces are the same."""
    pieces: list[bytes | None] = []
    end = 0  # where the last delimiter ended: no match may start before it
    look = 0  # where to look for the next marker
    while (k := body.find(marker, look)) >= 0:
        found = None
        for start in (k - 2, k - 1, k):
            if start >= end and (found := delimiter.match(body, start)) is not None:
                break
        look = k + 1
        if found is None:
            continue
        pieces += [body[end : found.start()], found.group(1)]
        end = look = found.end()
    pieces.append(body[end:])
    return pieces


def _parts(body: bytes, boundary: str) -> list[tuple[Headers, bytes]]:
    marker = b"--" + boundary.encode()
    delimiter = re.compile(rb"(?:^|\r?\n)" + re.escape(marker) + rb"(--)?[ \t]*")
    pieces = _split(body, marker, delimiter)
    # split() yields: preamble, closing-marker, part, closing-marker, part, ...
    if len(pieces) < 3:
        raise _bad("Malformed multipart body: no parts found.")
    parts = []
    for i in range(1, len(pieces) - 1, 2):
        if pieces[i] == b"--":  # the close delimiter: the rest is the epilogue
            break
        chunk = cast(bytes, pieces[i + 1])  # between two delimiters: never None
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        elif chunk.startswith(b"\n"):
            chunk = chunk[1:]
        else:
            raise _bad("Malformed multipart body.")
        head, payload = _head_body(chunk)
        parts.append((Headers(_header_list(head)), payload))
    return parts


def _inner_request(payload: bytes, inherited: list[tuple[str, str]]) -> Request | str:
    """The part's HTTP request, or the reason it cannot be one."""
    line, _, rest = payload.partition(b"\n")
    words = line.decode("utf-8", "replace").strip().split()
    if len(words) not in (2, 3) or not words[0].isalpha():
        return "Malformed request line in batch part."
    method, target = words[0].upper(), words[1]
    if not target.startswith("/"):
        return "Full URLs are not allowed in batch parts; use the path only."
    if target.startswith("/batch"):
        return "Batch requests cannot be nested."
    head, body = _head_body(rest)
    headers = Headers(inherited)
    for name, value in _header_list(head):
        headers.set(name, value)
    length = headers.get("Content-Length")
    if length is not None and length.isdigit():
        body = body[: int(length)]
    return Request(method, target, headers, body, batched=True)


def _serialise(cid: str | None, resp: Response) -> bytes:
    try:
        phrase = HTTPStatus(resp.status).phrase
    except ValueError:
        phrase = "Unknown"
    lines = ["Content-Type: application/http"]
    if cid is not None:
        # google-api-python-client needs "<response-" + the request's id inside the brackets.
        lines.append(f"Content-ID: <response-{cid}>")
    lines += ["", f"HTTP/1.1 {resp.status} {phrase}"]
    lines += [f"{k}: {v}" for k, v in resp.headers.items() if k.lower() != "content-length"]
    # Always at least one header, so "status line, headers, blank line" parses for empty bodies.
    lines += [f"Content-Length: {len(resp.body)}", "", ""]
    return "\r\n".join(lines).encode() + resp.body


def handle(ctx: Context) -> Response:
    req = ctx.request
    boundary = _boundary(req.headers.get("Content-Type", ""))
    if boundary is None:
        raise _bad("A batch request must be multipart/mixed with a boundary.")
    parts = _parts(req.body, boundary)
    if not parts:
        raise _bad("The batch request contains no parts.")
    if len(parts) > MAX_PARTS:
        raise _bad(f"A batch request cannot contain more than {MAX_PARTS} requests.")
    inherited = [
        (k, v)
        for k, v in req.headers.items()
        if not k.lower().startswith("content-") and k.lower() not in _NOT_INHERITED
    ]
    assert ctx.dispatch is not None
    answers: list[bytes] = []
    for part_headers, payload in parts:
        cid = part_headers.get("Content-ID")
        if cid is not None:
            cid = cid.strip().removeprefix("<").removesuffix(">")
        inner = _inner_request(payload, inherited)
        if isinstance(inner, str):
            resp = errors.render(errors.GOOGLE, _bad(inner))
        else:
            resp = ctx.dispatch(inner)
        answers.append(_serialise(cid, resp))
    mark = "batch_" + secrets.token_hex(12)
    out = b"".join(b"--" + mark.encode() + b"\r\n" + a + b"\r\n" for a in answers)
    out += b"--" + mark.encode() + b"--\r\n"
    return Response(200, out, {"Content-Type": f"multipart/mixed; boundary={mark}"})
