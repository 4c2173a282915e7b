"""The last synced view, carried on the events themselves: what a second device needs.

Each device keeps its own snapshot of what it last synced (the link's ``view``). When two
devices run the same pair, a device that did not make the last sync holds an older snapshot, and
would take the other device's propagation for a person's edit: with edits on both sides since,
it would see a conflict where there is none, or apply the conflict policy to the wrong field.

So every write also stores, in our private extended property on the written event, a
fingerprint of the synced view it establishes: a generation number (one more than the newest
generation known for the link) and a short hash per field. A device that reads an event whose
fingerprint is newer than its own snapshot judges changes against that fingerprint instead:
field by field, "changed" means "differs from the last synced view", whichever device synced
it. A rebuilt database (no snapshot at all) gets the same field-level merge from it.

Format: ``<generation>:<field>=<hash>,...[|<side>=<field>+<field>...]``, hashes the first 10
hex digits of SHA-256 over the field's normalised JSON (about 150 characters for a full view);
the optional part names what the other side receives in the same merge (``Fingerprint.awaits``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from json.encoder import encode_basestring
from typing import Any

_HASH_LEN = 10


@dataclass(frozen=True)
class Fingerprint:
    generation: int
    hashes: Mapping[str, str]
    # A merge writes both sides; on each it names the fields the other side receives in the
    # same generation. If that other write failed, the other side has an older generation, and
    # those fields there are still the old values, not a person's edit.
    awaits: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def text(self) -> str:
        fields = ",".join(f"{k}={v}" for k, v in sorted(self.hashes.items()))
        waiting = "".join(
            f"|{side}={'+'.join(sorted(names))}" for side, names in sorted(self.awaits.items())
        )
        return f"{self.generation}:{fields}{waiting}"

    def missed_by(self, side: str, own: Fingerprint | None) -> frozenset[str]:
        """The fields ``side`` was to receive in this generation, if it never got it."""
        if own is not None and own.generation >= self.generation:
            return frozenset()
        return frozenset(self.awaits.get(side, ()))

    def moved(self, view: Mapping[str, Any], field: str) -> bool:
        """Whether ``view``'s ``field`` differs from the synced value (an unknown field does)."""
        known = self.hashes.get(field)
        return known is None or known != field_hash(view.get(field))


# One encoder for every hash: json.dumps with options builds a new one per call, which was
# most of the cost of stamping 5,000 new copies.
_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))
_STR = encode_basestring  # what _JSON writes a string with (ensure_ascii=False)


def compact_json(value: Any) -> str:
    """``_JSON.encode(value)``, the same text: for the types a view holds it skips the
    encoder's set-up per call (most of its cost on values this small); other types go to it."""
    t = type(value)
    if t is str:
        return _STR(value)
    if value is None:
        return "null"
    if t is bool:
        return "true" if value else "false"
    if t is int:
        return int.__repr__(value)
    if t is list:
        return "[" + ",".join([compact_json(v) for v in value]) + "]"
    if t is dict and all(type(k) is str for k in value):
        return "{" + ",".join([_STR(k) + ":" + compact_json(value[k]) for k in sorted(value)]) + "}"
    return _JSON.encode(value)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:_HASH_LEN]


# Most field values repeat from event to event (null, "", [], show-as, reminders...): their
# hashes are kept, for short texts only (a long description would hold memory for nothing).
_memo = lru_cache(maxsize=4096)(_hash)
_MEMO_CHARS = 128


def field_hash(value: Any) -> str:
    text = compact_json(value)
    return _memo(text) if len(text) <= _MEMO_CHARS else _hash(text)


def view_hash(view: Mapping[str, Any]) -> str:
    """The hash of a whole view, which a link stores (core.planner)."""
    return hashlib.sha256(_JSON.encode(view).encode("utf-8")).hexdigest()


def of_view(
    view: Mapping[str, Any],
    generation: int,
    awaits: Mapping[str, frozenset[str]] | None = None,
) -> Fingerprint:
    hashes = {k: field_hash(v) for k, v in view.items()}
    return Fingerprint(generation, hashes, {k: v for k, v in (awaits or {}).items() if v})


def parse(text: str | None) -> Fingerprint | None:
    """A fingerprint read from an event; None for none or anything malformed (a person or
    another program may have edited the property: it then simply does not count)."""
    if not text:
        return None
    head, sep, rest = text.partition(":")
    if not sep or not head.isdigit() or len(head) > 12:
        return None
    body, *waiting = rest.split("|")
    hashes: dict[str, str] = {}
    for part in body.split(",") if body else []:
        name, eq, digest = part.partition("=")
        if not eq or not name or len(digest) != _HASH_LEN:
            return None
        hashes[name] = digest
    awaits: dict[str, frozenset[str]] = {}
    for part in waiting:
        side, eq, names = part.partition("=")
        if not eq or not side or not names:
            return None
        awaits[side] = frozenset(names.split("+"))
    return Fingerprint(int(head), hashes, awaits)


def newest(*texts: str | None) -> Fingerprint | None:
    found = [f for f in (parse(t) for t in texts) if f is not None]
    return max(found, key=lambda f: f.generation, default=None)
