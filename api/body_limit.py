"""The one request-size limit: counted on the stream as the body arrives.

A declared ``Content-Length`` over the limit is refused without reading anything; a body sent
chunked (no length) is counted message by message and refused as soon as it passes the limit,
so no route, parser or authentication ever holds more than the limit in memory.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import problem

MAX_BODY_BYTES = 32 * 1024 * 1024  # a logger upload of 20,000 readings is about 1.5 MB


class BodyTooLarge(Exception):
    """Raised into the app by ``receive`` once the body passed the limit."""


class BodyLimit:
    """Pure ASGI middleware: 413 ``PAYLOAD_TOO_LARGE`` for a body over ``limit`` bytes.

    Once the limit is passed, whatever the app answers to its interrupted read (a parse error,
    an unexpected exception) is dropped and the 413 is sent instead.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        received = 0
        exceeded = started = False

        async def counted() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def unless_exceeded(message: Message) -> None:
            nonlocal started
            if exceeded:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, unless_exceeded)
        except Exception:  # BodyTooLarge, or what a route made of it
            if not exceeded:
                raise
        if exceeded and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(413, "PAYLOAD_TOO_LARGE", f"requests are limited to {self.limit} bytes",
                           headers={"Connection": "close"})
        await response(scope, receive, send)
