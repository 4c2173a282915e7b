"""Transport-neutral request/response types and the path router of the sandbox.

Handlers never see sockets: the HTTPS server, the Google batch and the Graph ``$batch`` all build a
``Request``, route it and turn the ``Response`` back into bytes, so a batched call behaves exactly
like the same call sent on its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

if TYPE_CHECKING:
    from app.sandbox.state import SandboxState


class Headers(Mapping[str, str]):
    """Case-insensitive header map (httplib2 sends lower-case names, requests title-case)."""

    def __init__(self, items: Mapping[str, str] | list[tuple[str, str]] | None = None) -> None:
        self._d: dict[str, tuple[str, str]] = {}
        pairs = items.items() if isinstance(items, Mapping) else (items or [])
        for k, v in pairs:
            self._d[k.lower()] = (k, v)

    def __getitem__(self, key: str) -> str:
        return self._d[key.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._d.values())

    def __len__(self) -> int:
        return len(self._d)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._d

    def set(self, key: str, value: str) -> None:
        self._d[key.lower()] = (key, value)


@lru_cache(maxsize=1024)
def _parse_target(target: str) -> tuple[str, str, dict[str, list[str]]]:
    """(raw path, path, query) of a request target. The parts of a batch often share one; the
    query dict is shared too, so Request only ever hands out copies of it."""
    split = urlsplit(target)
    return split.path, unquote(split.path), parse_qs(split.query, keep_blank_values=True)


@dataclass
class Request:
    method: str
    target: str  # path plus query string, as sent on the request line
    headers: Headers
    body: bytes = b""
    batched: bool = False  # True for a part of a Google batch or a Graph $batch item
    # (target, raw path, path, query) of the last parse: the pipeline and the handlers ask for
    # these many times per request. Recomputed whenever ``target`` is not the one parsed.
    _parsed: tuple[str, str, str, dict[str, list[str]]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def _parse(self) -> tuple[str, str, str, dict[str, list[str]]]:
        parsed = self._parsed
        if parsed is None or parsed[0] is not self.target:
            parsed = (self.target, *_parse_target(self.target))
            self._parsed = parsed
        return parsed

    @property
    def path(self) -> str:
        return self._parse()[2]

    @property
    def raw_path(self) -> str:
        return self._parse()[1]

    @property
    def query(self) -> dict[str, list[str]]:
        # A fresh copy each time, as before, so a caller may change what it gets.
        return {k: list(v) for k, v in self._parse()[3].items()}

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self._parse()[3].get(name)
        return values[-1] if values else default

    def args(self, name: str) -> list[str]:
        return list(self._parse()[3].get(name, []))

    def bearer(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def form(self) -> dict[str, str]:
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[-1] for k, v in parsed.items()}


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # (body, its text) when json() made the body, so a batch can embed the text as it is.
    _json: tuple[bytes, str] | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
        # Payloads are plain JSON trees, never circular: skipping the check saves ~15%.
        text = json.dumps(payload, ensure_ascii=False, check_circular=False)
        data = text.encode("utf-8")
        h = {"Content-Type": "application/json; charset=UTF-8"}
        h.update(headers or {})
        resp = cls(status, data, h)
        resp._json = (data, text)
        return resp

    def json_text(self) -> str | None:
        """The body's text when json() wrote it (decoding it and encoding the result again
        gives the same text), else None."""
        if self._json is not None and self._json[0] is self.body:
            return self._json[1]
        return None

    @classmethod
    def html(cls, status: int, text: str, headers: dict[str, str] | None = None) -> Response:
        h = {"Content-Type": "text/html; charset=utf-8"}
        h.update(headers or {})
        return cls(status, text.encode("utf-8"), h)

    @classmethod
    def empty(cls, status: int, headers: dict[str, str] | None = None) -> Response:
        return cls(status, b"", dict(headers or {}))

    def json_body(self) -> Any:
        return json.loads(self.body) if self.body else None


class ApiError(Exception):
    """An answer the real service would give for bad input; rendered in the service's format.

    ``code`` is the Graph error code or the Google ``errors[0].reason``; ``extra`` carries
    service-specific fields (Google ``domain``, ``location``, ``locationType``).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: str,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.extra = extra


@dataclass
class Context:
    """What a handler gets: the request, the path parameters, the state, the caller."""

    request: Request
    params: dict[str, str]
    state: SandboxState
    service: str
    endpoint: str
    user_id: str | None = None
    dispatch: Callable[[Request], Response] | None = None  # for batch handlers

    def json_body(self, *, required: bool = True) -> Any:
        raw = self.request.body
        if not raw.strip():
            if required:
                raise ApiError(400, "badRequest", "Request body is required.")
            return None
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, "parseError", f"Parse Error: {exc}") from None


Handler = Callable[[Context], Response]


@dataclass(frozen=True)
class Route:
    service: str
    method: str
    regex: re.Pattern[str]
    endpoint: str
    handler: Handler
    auth: bool
    prefix: str = ""  # the pattern's text before its first parameter: a match starts with it


@dataclass(frozen=True)
class Match:
    route: Route
    params: dict[str, str]


_PARAM = re.compile(r"\{(\w+)(\*?)\}")


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """``/calendars/{calendarId}/events`` -> regex; ``{rest*}`` may span slashes."""
    out = []
    pos = 0
    for m in _PARAM.finditer(pattern):
        out.append(re.escape(pattern[pos : m.start()]))
        out.append(f"(?P<{m.group(1)}>.+)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)")
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("^" + "".join(out) + "/?$")


_MATCH_MEMO = 4096  # distinct (method, path) pairs remembered; then the memo starts over


class Router:
    def __init__(self) -> None:
        self._routes: list[Route] = []
        # (method, raw path) -> (route, raw params, path_known): a batch's parts share paths.
        self._memo: dict[tuple[str, str], tuple[Route | None, dict[str, str], bool]] = {}

    def add(
        self,
        service: str,
        method: str,
        pattern: str,
        endpoint: str,
        handler: Handler,
        *,
        auth: bool = True,
    ) -> None:
        prefix = pattern.split("{", 1)[0]
        regex = compile_pattern(pattern)
        self._routes.append(Route(service, method.upper(), regex, endpoint, handler, auth, prefix))
        self._memo.clear()

    def match(self, method: str, raw_path: str) -> tuple[Match | None, bool]:
        """Returns (match, path_known). path_known without a match means 405."""
        key = (method, raw_path)
        found = self._memo.get(key)
        if found is None:
            found = self._search(method, raw_path)
            if len(self._memo) >= _MATCH_MEMO:
                self._memo.clear()
            self._memo[key] = found
        route, params, path_known = found
        if route is None:
            return None, path_known
        return Match(route, dict(params)), True  # a handler may change its own params

    def _search(self, method: str, raw_path: str) -> tuple[Route | None, dict[str, str], bool]:
        path_known = False
        for route in self._routes:
            # startswith() rules out most routes for a fraction of a regex match's cost.
            if not raw_path.startswith(route.prefix):
                continue
            m = route.regex.match(raw_path)
            if not m:
                continue
            path_known = True
            if route.method == method.upper():
                params = {k: unquote(v) for k, v in m.groupdict().items()}
                return route, params, True
        return None, {}, path_known
