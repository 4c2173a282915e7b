"""JSON batching: ``POST /v1.0/$batch`` (api-spec §2.9).

Each item is dispatched as its own request (``batched=True``) with the batch's Authorization, so
it meets the same faults, quota and handlers as a plain call. This handler runs without the state
lock; every item takes it for itself.
"""

from __future__ import annotations

import json
from typing import Any

from app.sandbox import errors
from app.sandbox.graph_model import parse_json
from app.sandbox.httpcore import ApiError, Context, Headers, Request, Response

MAX_ITEMS = 20
_METHODS = {"GET", "POST", "PATCH", "PUT", "DELETE"}


def _bad(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def _check(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
        raise _bad("Invalid batch payload format.")
    items: list[dict[str, Any]] = body["requests"]
    if not items:
        raise _bad("Invalid batch payload format.")
    if len(items) > MAX_ITEMS:
        raise _bad(f"The number of batch requests exceeds the maximum of {MAX_ITEMS}.")
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            raise _bad("Invalid batch payload format.")
        rid, method, url = item.get("id"), item.get("method"), item.get("url")
        if not isinstance(rid, str) or not rid:
            raise _bad("Request id is required and must be a string.")
        if rid in seen:
            raise _bad(f"Request id '{rid}' is not unique in the batch.")
        seen.add(rid)
        if not isinstance(method, str) or method.upper() not in _METHODS:
            raise _bad(f"Invalid method for request '{rid}'.")
        if not isinstance(url, str) or not url or "://" in url:
            # Item URLs are relative to the version ("/me/events").
            raise _bad(f"Invalid request URL for request '{rid}'.")
        headers = item.get("headers", {})
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise _bad(f"Invalid headers for request '{rid}'.")
        has_type = any(k.lower() == "content-type" for k in headers)
        if item.get("body") is not None and not has_type:
            raise _bad(f"Content-Type header must be specified for request '{rid}' body.")
        depends = item.get("dependsOn", [])
        if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
            raise _bad(f"Invalid dependsOn for request '{rid}'.")
    ids = {i["id"] for i in items}
    for item in items:
        for dep in item.get("dependsOn", []):
            if dep not in ids or dep == item["id"]:
                raise _bad(f"Request '{item['id']}' depends on an unknown request '{dep}'.")
    return items


def _order(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Request order, except that an item waits for the items it depends on."""
    done: set[str] = set()
    out: list[dict[str, Any]] = []
    pending = list(items)
    while pending:
        ready = [i for i in pending if all(d in done for d in i.get("dependsOn", []))]
        if not ready:
            raise _bad("The dependsOn chain of the batch has a cycle.")
        item = ready[0]
        pending.remove(item)
        done.add(item["id"])
        out.append(item)
    return out


def _item_request(ctx: Context, item: dict[str, Any]) -> Request:
    url = item["url"] if item["url"].startswith("/") else "/" + item["url"]
    headers = Headers(dict(item.get("headers", {})))
    for name in ("Authorization", "Host"):
        if name in ctx.request.headers:
            headers.set(name, ctx.request.headers[name])
    body = b""
    if item.get("body") is not None:
        body = json.dumps(item["body"]).encode()
    return Request(item["method"].upper(), "/v1.0" + url, headers, body, batched=True)


def _item_response(rid: str, resp: Response, texts: dict[str, str]) -> dict[str, Any]:
    """The item's answer; a JSON body the sandbox wrote goes to ``texts`` instead, as text."""
    headers = {k: v for k, v in resp.headers.items() if k.lower() != "content-length"}
    out: dict[str, Any] = {"id": rid, "status": resp.status, "headers": headers}
    if resp.body:
        text = resp.json_text()
        if text is not None:
            texts[rid] = text
            return out
        try:
            out["body"] = json.loads(resp.body)
        except ValueError:
            out["body"] = resp.body.decode("utf-8", "replace")
    return out


def _encode(status: int, responses: list[dict[str, Any]], texts: dict[str, str]) -> Response:
    """``Response.json(status, {"responses": responses})`` with each body of ``texts`` put in
    as it is: the same bytes as decoding it into its item and encoding everything (the item's
    keys are id, status, headers, then body), without decoding and encoding it again."""
    items = []
    for r in responses:
        text = json.dumps(r, ensure_ascii=False, check_circular=False)
        if r["id"] in texts and "body" not in r:
            text = f'{text[:-1]}, "body": {texts[r["id"]]}}}'
        items.append(text)
    data = ('{"responses": [' + ", ".join(items) + "]}").encode("utf-8")
    return Response(status, data, {"Content-Type": "application/json; charset=UTF-8"})


def batch(ctx: Context) -> Response:
    items = _order(_check(parse_json(ctx.request.body)))
    assert ctx.dispatch is not None
    results: dict[str, dict[str, Any]] = {}
    texts: dict[str, str] = {}  # item id -> its JSON body, when the sandbox wrote it
    for item in items:
        failed = [d for d in item.get("dependsOn", []) if results[d]["status"] >= 400]
        if failed:
            body = errors.graph_body(424, "FailedDependency", "Failed dependency.")
            results[item["id"]] = {"id": item["id"], "status": 424, "headers": {}, "body": body}
            continue
        if item["url"].lstrip("/").startswith("$batch"):
            err = errors.graph_body(400, "BadRequest", "Nested batch requests are not supported.")
            results[item["id"]] = {"id": item["id"], "status": 400, "headers": {}, "body": err}
            continue
        answer = ctx.dispatch(_item_request(ctx, item))
        results[item["id"]] = _item_response(item["id"], answer, texts)
    responses = [results[i["id"]] for i in items]
    switches = ctx.state.settings.switches
    if switches.graph_batch_shuffle_responses:
        # "Responses may come back in any order": reversed, so clients cannot rely on it.
        responses.reverse()
    status = 200
    if any(r["status"] == 429 for r in responses):
        status = switches.graph_batch_throttled_outer_status
    return _encode(status, responses, texts)
