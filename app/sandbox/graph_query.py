"""OData query options on event collections: $select, $expand, $filter, $orderby, $top, $skip.

Only the subset a calendar sync client uses is understood; anything else is refused with the
400 Graph gives, never silently ignored (a silently ignored filter returns too much data).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode

from app.sandbox.httpcore import ApiError, Request

DEFAULT_PAGE = 10  # [U] api-spec §2.4: Graph's event lists answer 10 items unless $top says more
MAX_TOP = 1000


def qarg(req: Request, name: str) -> str | None:
    """Query parameters are case-insensitive on Graph ("startdatetime" works too)."""
    found = None
    for key, values in req.query.items():
        if key.lower() == name.lower() and values:
            found = values[-1]
    return found


def bad_query(name: str) -> ApiError:
    return ApiError(
        400,
        "RequestBroker--ParseUri",
        f"Could not find a property named '{name}' on type 'microsoft.graph.event'.",
    )


def invalid_filter() -> ApiError:
    return ApiError(400, "BadRequest", "Invalid filter clause")


def parse_window(req: Request) -> tuple[datetime, datetime, str, str]:
    start, end = qarg(req, "startDateTime"), qarg(req, "endDateTime")
    if not start or not end:
        # Verbatim from payloads/graph_error_400_calendarView_missing_window__thirdparty_recorded.
        raise ApiError(
            400,
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters "
            "StartDateTime and EndDateTime.",
        )
    return parse_instant(start, "StartDateTime"), parse_instant(end, "EndDateTime"), start, end


def parse_instant(text: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace(" ", "+"))
    except ValueError:
        raise ApiError(
            400, "ErrorInvalidParameter", f"The value '{text}' of parameter '{name}' is invalid."
        ) from None
    # No offset means UTC (api-spec §2.4); Prefer: outlook.timezone does not apply to the window.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def paging(req: Request) -> tuple[int, int]:
    top, skip = qarg(req, "$top"), qarg(req, "$skip")
    try:
        n = DEFAULT_PAGE if top is None else int(top)
        s = 0 if skip is None else int(skip)
    except ValueError:
        raise ApiError(400, "BadRequest", "Invalid $top or $skip value.") from None
    if n < 0 or s < 0:
        raise ApiError(400, "BadRequest", "$top and $skip must not be negative.")
    return min(n, MAX_TOP), s


def page(
    req: Request, origin: str, items: list[Any], top: int, skip: int
) -> tuple[list[Any], str | None]:
    """One $top/$skip page and the ``@odata.nextLink`` (Outlook pages with $skip, §2.4)."""
    chunk = items[skip : skip + top]
    if skip + top >= len(items) or top == 0:
        return chunk, None
    params = [(k, v[-1]) for k, v in req.query.items() if k.lower() != "$skip"]
    params.append(("$skip", str(skip + top)))
    query = urlencode(params, quote_via=quote, safe="$'(),:/=@")
    return chunk, f"{origin}{req.raw_path}?{query}"


# --- $select / $expand ---------------------------------------------------------------------


def split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside parentheses and quotes."""
    out: list[str] = []
    depth, quoted, start = 0, False, 0
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        if ch == sep and depth == 0 and not quoted:
            out.append(text[start:i].strip())
            start = i + 1
    if text[start:].strip():
        out.append(text[start:].strip())
    return out


# Query options are parsed once per distinct text: clients send the same $select/$expand with
# every item of a $batch. The memos hold immutable results (tuples, frozen option pairs, and
# predicates that keep no state) and never an error, which is raised afresh each time.


def parse_select(text: str | None, known: AbstractSet[str]) -> list[str] | None:
    if not text:
        return None
    return list(_select(text, frozenset(known)))


@lru_cache(maxsize=256)
def _select(text: str, known: frozenset[str]) -> tuple[str, ...]:
    names = split_top(text, ",")
    lower = {k.lower(): k for k in known}
    out = []
    for name in names:
        if name.lower() not in lower:
            raise bad_query(name)
        out.append(lower[name.lower()])
    return tuple(out)


def parse_expand(text: str | None, allowed: AbstractSet[str]) -> dict[str, dict[str, str]]:
    """``a($filter=...;$select=...),b`` -> {"a": {"$filter": ..., "$select": ...}, "b": {}}."""
    return {name: dict(opts) for name, opts in _expand(text or "", frozenset(allowed))}


@lru_cache(maxsize=256)
def _expand(
    text: str, allowed: frozenset[str]
) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    out: dict[str, dict[str, str]] = {}
    lower = {k.lower(): k for k in allowed}
    for item in split_top(text, ","):
        m = re.fullmatch(r"([\w.]+)\s*(?:\((.*)\))?", item, re.S)
        if not m or m.group(1).lower() not in lower:
            raise bad_query(m.group(1) if m else item)
        opts: dict[str, str] = {}
        for opt in split_top(m.group(2) or "", ";"):
            key, _, value = opt.partition("=")
            opts[key.strip().lower()] = value.strip()
        out[lower[m.group(1).lower()]] = opts
    return tuple((name, tuple(opts.items())) for name, opts in out.items())


def apply_select(doc: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    if select is None:
        return doc
    keep = {"@odata.etag", "@odata.type", "id", *select}
    return {k: v for k, v in doc.items() if k in keep}


# --- $filter -------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:('(?:[^']|'')*')|(\d+(?:\.\d+)?)|([A-Za-z_][\w.]*)|(/|\(|\)|:|,))")
_OPS = ("eq", "ne", "gt", "ge", "lt", "le")
Pred = Callable[[dict[str, Any]], bool]


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise invalid_filter()
        pos = m.end()
        if m.group(1) is not None:
            out.append(("str", m.group(1)[1:-1].replace("''", "'")))
        elif m.group(2) is not None:
            out.append(("num", float(m.group(2))))
        elif m.group(3) is not None:
            out.append(("id", m.group(3)))
        else:
            out.append(("sym", m.group(4)))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.pos = 0

    def peek(self, kind: str | None = None, value: str | None = None) -> bool:
        if self.pos >= len(self.toks):
            return False
        k, v = self.toks[self.pos]
        if kind is not None and k != kind:
            return False
        return value is None or (isinstance(v, str) and v.lower() == value)

    def take(self, kind: str | None = None, value: str | None = None) -> Any:
        if not self.peek(kind, value):
            raise invalid_filter()
        self.pos += 1
        return self.toks[self.pos - 1][1]

    def parse(self) -> Pred:
        pred = self.or_expr(None)
        if self.pos != len(self.toks):
            raise invalid_filter()
        return pred

    def or_expr(self, var: str | None) -> Pred:
        parts = [self.and_expr(var)]
        while self.peek("id", "or"):
            self.take()
            parts.append(self.and_expr(var))
        return parts[0] if len(parts) == 1 else (lambda d: any(p(d) for p in parts))

    def and_expr(self, var: str | None) -> Pred:
        parts = [self.unary(var)]
        while self.peek("id", "and"):
            self.take()
            parts.append(self.unary(var))
        return parts[0] if len(parts) == 1 else (lambda d: all(p(d) for p in parts))

    def unary(self, var: str | None) -> Pred:
        if self.peek("id", "not"):
            self.take()
            inner = self.unary(var)
            return lambda d: not inner(d)
        if self.peek("sym", "("):
            self.take()
            inner = self.or_expr(var)
            self.take("sym", ")")
            return inner
        if self.peek("id", "contains") or self.peek("id", "startswith"):
            func = self.take().lower()
            self.take("sym", "(")
            get = self.path(var)
            self.take("sym", ",")
            needle = str(self.take("str")).lower()
            self.take("sym", ")")
            if func == "contains":
                return lambda d: needle in str(get(d) or "").lower()
            return lambda d: str(get(d) or "").lower().startswith(needle)
        return self.comparison(var)

    def path(self, var: str | None) -> Callable[[dict[str, Any]], Any]:
        names = [self.take("id")]
        while self.peek("sym", "/") and self.pos + 1 < len(self.toks):
            kind, value = self.toks[self.pos + 1]
            if kind != "id" or str(value).lower() == "any":
                break
            self.take()
            names.append(self.take("id"))
        if var is not None and names[0] == var:
            names[0] = "$var"

        def get(d: dict[str, Any]) -> Any:
            cur: Any = d
            for name in names:
                if not isinstance(cur, dict):
                    return None
                if name not in cur:  # OData names are matched without regard to case here
                    name = next((k for k in cur if k.lower() == name.lower()), name)
                cur = cur.get(name)
            return cur

        return get

    def comparison(self, var: str | None) -> Pred:
        get = self.path(var)
        if self.peek("sym", "/"):  # collection/any(x: ...)
            self.take()
            self.take("id", "any")
            self.take("sym", "(")
            inner_var = self.take("id")
            self.take("sym", ":")
            inner = self.or_expr(inner_var)
            self.take("sym", ")")

            def any_of(d: dict[str, Any]) -> bool:
                items = get(d) or []
                return any(inner({**d, "$var": item}) for item in items)

            return any_of
        if not any(self.peek("id", op) for op in _OPS):
            raise invalid_filter()
        op = self.take().lower()
        if self.peek("str") or self.peek("num"):
            literal = self.take()
        elif self.peek("id", "true") or self.peek("id", "false"):
            literal = self.take().lower() == "true"
        elif self.peek("id", "null"):
            self.take()
            literal = None
        else:
            raise invalid_filter()
        return lambda d: _compare(get(d), op, literal)


def _compare(left: Any, op: str, right: Any) -> bool:
    # Exchange compares strings without regard to case.
    if isinstance(left, str) and isinstance(right, str):
        left, right = left.lower(), right.lower()
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    numbers = isinstance(left, int | float) and isinstance(right, int | float)
    if not numbers and (left is None or right is None or type(left) is not type(right)):
        return False
    try:
        return bool(
            {"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[op]
        )
    except TypeError:
        return False


def parse_filter(text: str | None) -> Pred | None:
    if not text or not text.strip():
        return None
    return _filter(text)


@lru_cache(maxsize=256)
def _filter(text: str) -> Pred:
    return _Parser(text).parse()


def parse_orderby(text: str | None) -> list[tuple[list[str], bool]]:
    """``start/dateTime desc, subject`` -> [(["start","dateTime"], True), (["subject"], False)]."""
    out = []
    for item in split_top(text or "", ","):
        m = re.fullmatch(r"([\w/]+)(?:\s+(asc|desc))?", item.strip(), re.I)
        if not m:
            raise ApiError(400, "BadRequest", f"Invalid $orderby clause '{item}'.")
        out.append((m.group(1).split("/"), (m.group(2) or "").lower() == "desc"))
    return out


def order_key(doc: dict[str, Any], path: list[str]) -> Any:
    cur: Any = doc
    for name in path:
        cur = cur.get(name) if isinstance(cur, dict) else None
    return (cur is not None, cur if isinstance(cur, str | int | float | bool) else str(cur))
