"""The batch envelope GoogleTransport writes and reads itself (api-spec §1.9), checked against
the sandbox's own reading and writing of it and against a reply shaped like Google's docs."""

from __future__ import annotations

import pytest

from app.providers.google_multipart import Answer, MalformedBatch, Part, decode, encode
from app.sandbox import google_batch
from app.sandbox.httpcore import Response

API = "https://www.googleapis.com/calendar/v3/"


def _parts() -> list[Part]:
    return [
        Part(
            "POST",
            API + "calendars/a%40b.c/events?sendUpdates=none&alt=json",
            {"accept": "application/json", "content-type": "application/json"},
            '{"summary": "Caf\\u00e9"}',
        ),
        Part(
            "PATCH",
            API + "calendars/a%40b.c/events/e1?sendUpdates=none&alt=json",
            {"content-type": "application/json", "If-Match": '"3"', "authorization": "Bearer x"},
            '{"summary": "B"}',
        ),
        Part("DELETE", API + "calendars/a%40b.c/events/e2?sendUpdates=none", {"accept": "*/*"}),
    ]


def test_parts_read_back_as_the_requests_they_are() -> None:
    body = encode(_parts(), "b0undary", "base")
    read = google_batch._parts(body, "b0undary")
    assert [h.get("Content-ID") for h, _ in read] == ["<base + 0>", "<base + 1>", "<base + 2>"]
    requests = [google_batch._inner_request(payload, []) for _, payload in read]
    assert [(r.method, r.target) for r in requests if not isinstance(r, str)] == [
        ("POST", "/calendar/v3/calendars/a%40b.c/events?sendUpdates=none&alt=json"),
        ("PATCH", "/calendar/v3/calendars/a%40b.c/events/e1?sendUpdates=none&alt=json"),
        ("DELETE", "/calendar/v3/calendars/a%40b.c/events/e2?sendUpdates=none"),
    ]
    post, patch, delete = (r for r in requests if not isinstance(r, str))
    assert post.body == b'{"summary": "Caf\\u00e9"}'
    assert patch.headers.get("If-Match") == '"3"'
    # The outer request's token applies to every part: parts never carry a stale one.
    assert patch.headers.get("Authorization") is None
    assert delete.body == b"" and delete.headers.get("Content-Length") is None


def test_answers_are_matched_by_content_id_whatever_their_order() -> None:
    answers = [
        google_batch._serialise("base + 2", Response(204)),
        google_batch._serialise("base + 0", Response.json(200, {"id": "x"})),
        google_batch._serialise(
            "base + 1",
            Response.json(429, {"error": {"code": 429}}, {"Retry-After": "2"}),
        ),
    ]
    body = b"".join(b"--m\r\n" + a + b"\r\n" for a in answers) + b"--m--\r\n"
    got = decode("multipart/mixed; boundary=m", body, 3, "base")
    assert [a.status for a in got] == [200, 429, 204]
    assert got[0].body == b'{"id": "x"}'
    assert got[1].headers["retry-after"] == "2"
    assert got[2].body == b""


def test_the_docs_example_reads() -> None:
    # The shape of the batch guide's answer: LF line ends, a quoted boundary, no Content-Length.
    body = (
        b"--batch_pK7JBAk73-E=_AA5eFwv4m2Q=\n"
        b"Content-Type: application/http\n"
        b"Content-ID: <response-k1 + 0>\n"
        b"\n"
        b"HTTP/1.1 200 OK\n"
        b"Content-Type: application/json\n"
        b'ETag: "lGaP-E0memYDumK16YuUDM_6Gf0/V43j6azD55CPRGb9b6uytDYl61Y"\n'
        b"\n"
        b'{"kind": "calendar#event", "id": "1"}\n'
        b"--batch_pK7JBAk73-E=_AA5eFwv4m2Q=--\n"
    )
    (answer,) = decode('multipart/mixed; boundary="batch_pK7JBAk73-E=_AA5eFwv4m2Q="', body, 1, "k1")
    assert answer == Answer(
        200,
        {
            "content-type": "application/json",
            "etag": '"lGaP-E0memYDumK16YuUDM_6Gf0/V43j6azD55CPRGb9b6uytDYl61Y"',
        },
        b'{"kind": "calendar#event", "id": "1"}',
    )


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"{}"),  # not a batch answer at all
        ("multipart/mixed; boundary=m", b"--m\r\nContent-ID: <response-base + 0>\r\n\r\n--m--"),
        ("multipart/mixed; boundary=m", b"--m--\r\n"),  # no answers for the requests
        (
            "multipart/mixed; boundary=m",
            b"--m\r\nContent-ID: <response-other + 0>\r\n\r\nHTTP/1.1 200 OK\r\n\r\n{}\r\n--m--",
        ),
    ],
)
def test_an_unreadable_answer_is_refused(content_type: str, body: bytes) -> None:
    with pytest.raises(MalformedBatch):
        decode(content_type, body, 1, "base")
