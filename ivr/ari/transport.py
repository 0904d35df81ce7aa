"""An httpx transport over aiohttp, for ari-client's REST calls.

Why not httpx's own (httpcore) pool: profiled with 500 calls in progress, the app spent most of its time
in httpcore's pool bookkeeping (every request walks every connection and every queued request, asking
each connection whether it expired) and in its async-library detection (an ``import`` attempt per lock),
and the time from a key press to the next prompt grew to seconds. aiohttp's connector hands out
connections in constant time. httpx stays in front, so ari-client and our response hook are unchanged.
"""

from __future__ import annotations

import aiohttp
import httpx

#: Request headers aiohttp sets itself.
_SKIP = {"host", "content-length", "transfer-encoding", "connection"}


class AiohttpTransport(httpx.AsyncBaseTransport):
    """``httpx.AsyncClient(transport=AiohttpTransport(...))``: one aiohttp session, ``limit`` connections."""

    def __init__(self, limit: int, timeout_seconds: float) -> None:
        self._limit = limit
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._session is None:
            # Created lazily: an aiohttp session belongs to the running event loop.
            connector = aiohttp.TCPConnector(limit=self._limit)
            # httpx decodes the body itself (it sees Content-Encoding), so aiohttp must not.
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout, auto_decompress=False)
        headers = [(name, value) for name, value in request.headers.multi_items() if name.lower() not in _SKIP]
        try:
            async with self._session.request(
                request.method, str(request.url), headers=headers, data=request.content or None
            ) as response:
                body = await response.read()
                return httpx.Response(
                    response.status, headers=list(response.headers.items()), content=body, request=request
                )
        except TimeoutError as err:
            raise httpx.TimeoutException(f"ARI did not answer in time: {err}", request=request) from err
        except aiohttp.ClientError as err:
            raise httpx.TransportError(f"{type(err).__name__}: {err}") from err

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
