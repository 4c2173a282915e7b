"""``dataclasses.replace`` for the frozen records planning and committing copy by the thousand.

``replace`` gathers every field by name and runs ``__init__`` again, which for a frozen class
sets each field through ``object.__setattr__``: about 15 µs for an Event, and an initial sync of
5,000 events made 30,000 such copies. When ``__init__`` does nothing but store its arguments
(no ``__post_init__``, every field an init field), copying the instance's ``__dict__`` gives the
same object for a small part of that. Anything else still goes through ``replace``.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, TypeVar

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class _Shape:
    names: frozenset[str]
    # Fields behind a data descriptor (core.stored.Stored): ``replace`` reads them, which
    # decodes stored text, and the copy then holds the decoded value; so does ``evolve``.
    described: tuple[str, ...]


_SHAPES: dict[type, _Shape | None] = {}


def _shape(cls: type) -> _Shape | None:
    if cls in _SHAPES:
        return _SHAPES[cls]
    shape = None
    if (
        dataclasses.is_dataclass(cls)
        and not hasattr(cls, "__post_init__")
        and not hasattr(cls, "__slots__")
    ):
        fields = dataclasses.fields(cls)
        if all(f.init for f in fields):
            described = tuple(
                f.name
                for f in fields
                if hasattr(type(inspect.getattr_static(cls, f.name, None)), "__set__")
            )
            shape = _Shape(frozenset(f.name for f in fields), described)
    _SHAPES[cls] = shape
    return shape


def evolve(obj: T, **changes: Any) -> T:
    """``dataclasses.replace(obj, **changes)``: the same result, cheaper where it can be."""
    cls = type(obj)
    shape = _shape(cls)
    state = obj.__dict__
    # (Anything else in __dict__, such as a cached property, must not be carried over.)
    if shape is None or len(state) != len(shape.names) or not changes.keys() <= shape.names:
        return dataclasses.replace(obj, **changes)  # type: ignore[type-var]
    for name in shape.described:
        if name not in changes:
            getattr(obj, name)  # decoded, as replace would read it
    new: T = object.__new__(cls)
    new.__dict__.update(state)
    new.__dict__.update(changes)
    return new
