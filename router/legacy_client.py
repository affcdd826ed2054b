"""HTTP client for the legacy orchestrator, speaking the Durable Functions HTTP API.

The same client works against the project's legacy replica and the real legacy Function App
(``CLOUDFOLIO_LEGACY_URL``). A function key, when configured, is sent as ``x-functions-key`` on
every request; status URLs are followed exactly as given (their query string carries Durable's
``taskHub``, ``connection`` and ``code``), but only on the legacy app's own origin. ``Retry-After``
on a 202 is reported so pollers can honour it; ``Failed`` and ``Terminated`` are failed runs.
A GET that meets a pooled connection the app closed meanwhile is sent once more on a new one (a
soak saw one such ``ReadError`` in 22,000 requests); a POST is never resent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from services.core.errors import CloudfolioError, DependencyUnavailable

IN_PROGRESS = frozenset({"Pending", "Running", "ContinuedAsNew", "Suspended"})
FAILED = frozenset({"Failed", "Terminated", "Canceled"})


class LegacyUnavailable(DependencyUnavailable):
    """The legacy app could not be reached or answered with a server error."""

    service = "the legacy app"


class LegacyProtocolError(CloudfolioError):
    """The legacy app answered with something the Durable API does not define."""


@dataclass(frozen=True)
class LegacyStart:
    """The answer to ``orchestrator_start``: either ``cached`` (200) or an instance to poll (202)."""

    cached: dict[str, Any] | None
    instance_id: str | None = None
    status_url: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class LegacyStatus:
    runtime_status: str
    output: Any
    retry_after: float | None
    created: str | None = None
    last_updated: str | None = None
    custom_status: Any = None

    @property
    def seconds(self) -> float | None:
        """How long the orchestration ran, from Durable's own timestamps."""
        try:
            start = datetime.fromisoformat(str(self.created).replace("Z", "+00:00"))
            end = datetime.fromisoformat(str(self.last_updated).replace("Z", "+00:00"))
        except ValueError:
            return None
        return max(0.0, (end - start).total_seconds())

    @property
    def in_progress(self) -> bool:
        return self.runtime_status in IN_PROGRESS

    @property
    def failed(self) -> bool:
        return self.runtime_status in FAILED

    @property
    def completed(self) -> bool:
        return self.runtime_status == "Completed"


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["retry-after"])
    except (KeyError, ValueError):
        return None


#: Seconds an idle pooled connection is kept: below the keep-alive timeout of the servers in front
#: of the app (uvicorn's is 5 s), so the router rarely reuses one the server is closing.
KEEPALIVE_EXPIRY = 2.0
#: What a reused connection that the server closed meanwhile raises.
STALE_CONNECTION = (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError)


class LegacyClient:
    """Async client for one legacy app.

    Parameters:
      base_url(str): the app's base URL, e.g. ``https://app.azurewebsites.net``.
      function_key(str): sent as ``x-functions-key`` when set.
      timeout(float): seconds per request. Defaults to 30 (``orchestrator_start`` lists GitHub).
      transport(httpx.AsyncBaseTransport | None): for tests.
    """

    def __init__(self, base_url: str, function_key: str = "", timeout: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._origin = urlsplit(self.base_url)[:2]
        headers = {"x-functions-key": function_key} if function_key else {}
        self._client = httpx.AsyncClient(headers=headers, timeout=timeout, transport=transport,
                                         limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY))

    async def close(self) -> None:
        await self._client.aclose()

    async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if urlsplit(url)[:2] != self._origin:
            raise LegacyProtocolError(f"refusing to follow {url!r}: not on the legacy origin {self.base_url}")
        try:
            try:
                response = await self._client.request(method, url, **kwargs)
            except STALE_CONNECTION:
                if method != "GET":
                    raise
                # the app closed a pooled keep-alive connection as we reused it: a GET is safe to resend
                response = await self._client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise LegacyUnavailable(f"legacy app unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 500 and not url.startswith(self.base_url + "/runtime/"):
            raise LegacyUnavailable(f"legacy app answered {response.status_code}")
        return response

    async def start(self, username: str, force: bool = False) -> LegacyStart:
        response = await self._request("POST", f"{self.base_url}/api/orchestrator_start",
                                       json={"username": username, "force_refresh": force})
        if response.status_code == 200:
            return LegacyStart(cached=response.json())
        if response.status_code == 202:
            payload = response.json()
            status_url = payload.get("statusQueryGetUri") or response.headers.get("location")
            if not payload.get("id") or not status_url:
                raise LegacyProtocolError("202 without an instance id or status URL")
            return LegacyStart(cached=None, instance_id=payload["id"], status_url=status_url,
                               retry_after=_retry_after(response))
        raise LegacyProtocolError(f"orchestrator_start answered {response.status_code}: {response.text[:200]}")

    async def status(self, status_url: str) -> LegacyStatus:
        response = await self._request("GET", status_url)
        if response.status_code == 404:
            raise LegacyProtocolError("the legacy app does not know this instance (404)")
        if response.status_code not in (200, 202, 500):
            raise LegacyProtocolError(f"status answered {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise LegacyProtocolError("status body is not JSON") from exc
        return LegacyStatus(runtime_status=str(body.get("runtimeStatus")), output=body.get("output"),
                            retry_after=_retry_after(response), created=body.get("createdTime"),
                            last_updated=body.get("lastUpdatedTime"), custom_status=body.get("customStatus"))

    async def get_bundle(self, username: str) -> tuple[int, Any]:
        response = await self._request("GET", f"{self.base_url}/api/bundles/{username}")
        return response.status_code, response.json()

    async def get_repo(self, username: str, repo: str) -> tuple[int, Any]:
        response = await self._request("GET", f"{self.base_url}/api/bundles/{username}/{repo}")
        return response.status_code, response.json()

    async def reachable(self) -> str:
        try:
            response = await self._client.get(f"{self.base_url}/api/health", timeout=3)
        except httpx.HTTPError as exc:
            return f"unreachable: {type(exc).__name__}"
        return "reachable" if response.status_code < 500 else f"unhealthy: HTTP {response.status_code}"
