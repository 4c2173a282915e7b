"""Identity of copies across crashes, retries and devices.

A copy's *tag* is derived from where its origin lives and where the copy goes; its creation *key*
is the tag plus a generation number. Nothing local goes in, so a second laptop running the same
pair computes the same key, and the cloud's idempotency (Google client-chosen ids, Graph
transactionId) turns its create into the same event instead of a second copy.

Both are base32hex (``[0-9a-v]``), the alphabet Google allows for client-chosen event ids, and
start with a prefix, so a copy can be recognised from its id or transactionId alone (Graph's
delta does not return extended properties).
"""

from __future__ import annotations

import hashlib

PREFIX = "mrd1"
_GEN_DIGITS = 2
MAX_GENERATION = 10**_GEN_DIGITS - 1


_B32HEX = "0123456789abcdefghijklmnopqrstuv"
# Every 10-bit value as its two base32hex digits: a tag's 26 digits are 13 lookups.
_PAIRS = [a + b for a in _B32HEX for b in _B32HEX]


def tag_for(origin_calendar: str, origin_event_id: str, target_calendar: str) -> str:
    digest = hashlib.sha256(
        "\x1f".join((origin_calendar, origin_event_id, target_calendar)).encode("utf-8")
    ).digest()
    # The first 26 digits of the digest in base32hex, lower case: its first 130 bits (base64's
    # encoder, pure Python and for all 256 bits, was most of the cost of a tag).
    bits = int.from_bytes(digest[:17], "big") >> 6
    return PREFIX + "".join([_PAIRS[(bits >> shift) & 1023] for shift in range(120, -1, -10)])


def key_for(tag: str, generation: int) -> str:
    """The idempotency key of the ``generation``-th copy (a new one after a copy is deleted,
    since Google keeps deleted ids reserved)."""
    if not 0 <= generation <= MAX_GENERATION:
        raise ValueError(f"copy generation {generation} out of range")
    return f"{tag}{generation:0{_GEN_DIGITS}d}"


def tag_from_key(key: str | None) -> str | None:
    """The tag inside a key (a Google id or a Graph transactionId), if it is one of ours."""
    if not key or not key.startswith(PREFIX) or len(key) != len(PREFIX) + 26 + _GEN_DIGITS:
        return None
    tag, gen = key[:-_GEN_DIGITS], key[-_GEN_DIGITS:]
    return tag if gen.isdigit() else None


def is_tag(value: str | None) -> bool:
    return bool(value) and value is not None and value.startswith(PREFIX) and len(value) == 30


_SEP = "."


def provenance(tag: str, origin_id: str) -> str:
    """What a copy carries in its tag property: the tag and its origin's id.

    The id lets a device that has no link for the copy (a second laptop, a rebuilt database)
    ask the origin's calendar whether the origin still exists.
    """
    return f"{tag}{_SEP}{origin_id}"


def split_provenance(value: str | None) -> tuple[str | None, str | None]:
    """(tag, origin id) from a tag property; (None, None) when it is not one of ours."""
    if not value:
        return None, None
    tag, sep, origin = value.partition(_SEP)
    if not is_tag(tag):
        return None, None
    return tag, (origin or None) if sep else None
