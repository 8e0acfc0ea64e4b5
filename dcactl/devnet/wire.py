"""Shared HTTP helpers: the real API's error shapes, JSON responses, body parsing."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

__all__ = ["BadRequest", "NotJson", "address", "json_response", "read_api_json", "read_json", "unprocessable"]

_ADDR = re.compile(r"^0x[0-9a-fA-F]{40}$")
DESERIALIZE = "Failed to deserialize the JSON body into the target type"


class BadRequest(Exception):
    """A body the real API would refuse with HTTP 422; the message is the detail after the colon."""


def unprocessable(detail: str) -> web.Response:
    """HTTP 422 with the real API's plain-text deserialisation error."""
    return web.Response(status=422, text=f"{DESERIALIZE}: {detail}")


def json_response(data: Any, status: int = 200) -> web.Response:
    """A compact JSON response."""
    return web.Response(
        status=status, body=json.dumps(data, separators=(",", ":")).encode(), content_type="application/json"
    )


class NotJson(Exception):
    """A body that is no JSON at all, or not sent as JSON: the real API answers 400 or 415 (§7)."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status, self.text = status, text

    def response(self) -> web.Response:
        """The plain-text answer of the real API."""
        return web.Response(status=self.status, text=self.text)


async def read_api_json(request: web.Request) -> dict[str, Any]:
    """An /info or /exchange body as the real API reads it: a missing or other Content-Type → 415, a
    body that is not JSON → 400 (:class:`NotJson`); JSON of the wrong shape → :class:`BadRequest` (422)."""
    if request.content_type != "application/json":
        raise NotJson(415, "Expected request with `Content-Type: application/json`")
    raw = await request.read()
    try:
        json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise NotJson(400, f"Failed to parse the request body as JSON: {exc.__class__.__name__}") from exc
    return await read_json(request)


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object; raises BadRequest otherwise."""
    raw = await request.read()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"expected value at line 1 column 1 ({exc.__class__.__name__})") from exc
    if not isinstance(body, dict):
        raise BadRequest("invalid type: expected struct")
    return body


def address(body: dict[str, Any], key: str = "user") -> str:
    """A 0x address field, lower-cased; raises BadRequest when missing or malformed."""
    v = body.get(key)
    if not isinstance(v, str) or not _ADDR.match(v):
        raise BadRequest(f"{key}: invalid address {v!r}")
    return v.lower()


def need_int(body: dict[str, Any], key: str, optional: bool = False) -> int | None:
    """An integer field (bools refused); raises BadRequest."""
    v = body.get(key)
    if v is None and optional:
        return None
    if not isinstance(v, int) or isinstance(v, bool):
        raise BadRequest(f"{key}: invalid type: expected u64, got {v!r}")
    return v
