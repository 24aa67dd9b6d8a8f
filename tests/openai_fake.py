"""A loopback fake of an OpenAI-compatible server: ``POST /v1/chat/completions``.

Serve :meth:`OpenAIFake.application` with ``tests.loopback.serve`` and point the client's
base URL at ``{base}/v1``. Each request is answered by the next scripted
:class:`Behaviour` (then by ``default``): a plain JSON reply or a ``text/event-stream``
one, a 429 with ``retry-after`` or ``retry-after-ms``, a 5xx, a slow or trickling reply, a
body that is not JSON. Every request body is recorded so tests can assert on the prompt.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

API_KEY = "sk-fake-9f3c2a7e51b04d6c8e2f"


@dataclass
class Behaviour:
    """How the fake answers one request."""

    content: str | Callable[[dict], str] = ""
    status: int = 200
    stream: bool | None = None  # None: stream when the request asks to
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the reply starts
    chunk_delay: float = 0.0  # seconds between streamed chunks
    raw: str | None = None  # a body sent as is, instead of a completion
    raw_type: str = "application/json"
    error: str = ""  # the message of an error reply
    usage: tuple[int, int] = (120, 30)
    reject_if: Callable[[dict], str | None] | None = None  # a 400 with this message when it says so


def reply(content: str | Callable[[dict], str], **kw: Any) -> Behaviour:
    return Behaviour(content=content, **kw)


def rate_limited(*, retry_after: float | None = None, retry_after_ms: float | None = None) -> Behaviour:
    headers = {}
    if retry_after is not None:
        headers["retry-after"] = f"{retry_after:g}"
    if retry_after_ms is not None:
        headers["retry-after-ms"] = f"{retry_after_ms:g}"
    return Behaviour(status=429, headers=headers, error="Rate limit reached for requests")


def failing(status: int = 500, error: str = "The server had an error while processing your request.") -> Behaviour:
    return Behaviour(status=status, error=error)


def lines(*items: tuple[str, Sequence[int]]) -> str:
    """A reply in the strict line format: ``sentence [n, m]`` per line."""
    return "\n".join(f"{text} [{', '.join(str(n) for n in cites)}]" for text, cites in items)


def as_json(*items: tuple[str, Sequence[int]], covered: bool | None = None) -> str:
    """A reply in the structured format ``{"sentences": [{"text", "cites"}]}``."""
    body: dict[str, Any] = {"sentences": [{"text": text, "cites": list(cites)} for text, cites in items]}
    if covered is not None:
        body = {"covered": covered, **body}
    return json.dumps(body)


def structured_or_lines(*items: tuple[str, Sequence[int]]) -> Callable[[dict], str]:
    """JSON when the request asked for structured output, the line format otherwise."""
    return lambda request: as_json(*items) if "response_format" in request else lines(*items)


class OpenAIFake:
    """What the client sent, and what the server should answer."""

    def __init__(self, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.script: list[Behaviour] = []
        self.default = Behaviour(content="")
        self.requests: list[dict[str, Any]] = []
        self.times: list[float] = []
        self.closed = False  # set when the test ends: slow replies stop waiting

    def then(self, *behaviours: Behaviour) -> OpenAIFake:
        self.script.extend(behaviours)
        return self

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        return app

    # -- recorded requests ---------------------------------------------------------------------

    def system_prompt(self, i: int = -1) -> str:
        return self._message(i, "system")

    def user_message(self, i: int = -1) -> str:
        return self._message(i, "user")

    def _message(self, i: int, role: str) -> str:
        return "\n".join(m["content"] for m in self.requests[i]["messages"] if m["role"] == role)

    # -- the route -----------------------------------------------------------------------------

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        self.times.append(time.monotonic())
        try:
            body = await request.json()
        except ValueError:
            return self._error(400, "We could not parse the JSON body of your request.")
        self.requests.append(body)
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            given = request.headers.get("Authorization", "").removeprefix("Bearer ")
            return self._error(401, f"Incorrect API key provided: {given}.")
        behaviour = self.script.pop(0) if self.script else self.default
        if behaviour.reject_if is not None:
            problem = behaviour.reject_if(body)
            if problem:
                return self._error(400, problem)
        await self._sleep(behaviour.delay)
        if self.closed:
            return web.Response(status=503)
        if behaviour.status != 200:
            return self._error(behaviour.status, behaviour.error or f"status {behaviour.status}", behaviour.headers)
        if behaviour.raw is not None:
            return web.Response(body=behaviour.raw.encode(), status=200,
                                headers={"Content-Type": behaviour.raw_type, **behaviour.headers})
        content = behaviour.content(body) if callable(behaviour.content) else behaviour.content
        stream = body.get("stream", False) if behaviour.stream is None else behaviour.stream
        if stream:
            return await self._stream(request, body, content, behaviour)
        prompt, completion = behaviour.usage
        return web.json_response({
            "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion},
        }, headers=behaviour.headers)

    async def _stream(self, request: web.Request, body: dict, content: str,
                      behaviour: Behaviour) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", **behaviour.headers})
        await response.prepare(request)
        model = body.get("model", "fake")

        def chunk(delta: dict, finish: str | None = None, **extra: Any) -> bytes:
            data = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
                    "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
            return f"data: {json.dumps(data)}\n\n".encode()

        try:
            await response.write(chunk({"role": "assistant", "content": ""}))
            for start in range(0, len(content), 16):
                await self._sleep(behaviour.chunk_delay)
                if self.closed:
                    return response
                await response.write(chunk({"content": content[start:start + 16]}))
            await response.write(chunk({}, "stop"))
            if (body.get("stream_options") or {}).get("include_usage"):
                prompt, completion = behaviour.usage
                usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
                data = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
                        "model": model, "choices": [], "usage": usage}
                await response.write(f"data: {json.dumps(data)}\n\n".encode())
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except (ConnectionResetError, ConnectionError, RuntimeError):
            pass  # the client stopped listening: its deadline passed
        return response

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
        kind = {400: "invalid_request_error", 401: "invalid_request_error", 429: "rate_limit_exceeded"}.get(
            status, "server_error")
        return web.json_response({"error": {"message": message, "type": kind, "param": None, "code": None}},
                                 status=status, headers=headers or {})

    async def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.closed and time.monotonic() < end:
            await asyncio.sleep(min(0.05, end - time.monotonic()))
