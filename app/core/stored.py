"""Dataclass fields kept as the JSON text they were stored as, and decoded on first read.

A link carries its synced view and the last known event of each side. A run loads every link but
reads the snapshots of only the few that changed, and decoding them all cost about 90% of a
no-op sync; so the store hands the text over and each field decodes itself when first read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from app.core.model import Event
from app.core.serialize import event_from_json

T = TypeVar("T")
_NO_DEFAULT: Any = object()


class Stored(Generic[T]):
    """A field of a frozen dataclass that accepts either its value or the value's JSON text.

    Text is decoded on the first read and the result replaces it, so later reads are plain
    attribute reads. A decoded value is never a ``str`` (events, mappings, None), which is what
    tells the two apart.
    """

    def __init__(self, decode: Callable[[str], T], default: T = _NO_DEFAULT) -> None:
        self._decode = decode
        self._default = default
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, obj: object | None, owner: type | None = None) -> T:
        if obj is None:
            # dataclasses asks the class for the field's default; none means a required field.
            if self._default is _NO_DEFAULT:
                raise AttributeError(self._name)
            return self._default
        value = obj.__dict__[self._name]
        if isinstance(value, str):
            value = self._decode(value)
            obj.__dict__[self._name] = value
        return value  # type: ignore[no-any-return]

    def __set__(self, obj: object, value: T | str) -> None:
        # Only a dataclass's own __init__ gets here (frozen instances refuse other writes).
        obj.__dict__[self._name] = value


def encoded(obj: object, name: str) -> str | None:
    """The JSON text of a field that was never read, else None (to store it back unchanged)."""
    value = obj.__dict__.get(name)
    return value if isinstance(value, str) else None


def decode_event(text: str) -> Event | None:
    return event_from_json(json.loads(text))


def decode_mapping(text: str) -> dict[str, Any]:
    value = json.loads(text)
    assert isinstance(value, dict)
    return value
