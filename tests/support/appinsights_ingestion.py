"""Application Insights' ingestion endpoint on loopback, for what cannot run here (Azure Monitor).

It speaks the documented Track API the Azure Monitor exporter uses: ``POST {IngestionEndpoint}/v2.1/track``
with a JSON array of telemetry envelopes (``{"name", "time", "iKey", "tags", "data": {"baseType",
"baseData"}}``, optionally gzip), answered ``200 {"itemsReceived", "itemsAccepted", "errors": []}``.
:meth:`IngestionDouble.requests_rows` turns ``RequestData`` envelopes into rows of the ``requests``
table as KQL sees them (``name``, ``resultCode``, ``success``, ``url``, ``customDimensions``).
"""

from __future__ import annotations

import gzip
import json
import threading
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cloudfolio.devserver.threaded import ServerThread

#: A connection string's instrumentation key; any GUID is accepted by the exporter.
IKEY = "00000000-0000-4000-8000-000000000000"


class IngestionDouble:
    def __init__(self) -> None:
        self.envelopes: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.server = ServerThread(Starlette(routes=[Route("/{prefix:path}v2.1/track", self._track, methods=["POST"])]))

    def start(self) -> IngestionDouble:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    @property
    def connection_string(self) -> str:
        return f"InstrumentationKey={IKEY};IngestionEndpoint={self.server.url}/"

    def requests_rows(self) -> list[dict[str, Any]]:
        """``requests`` rows: one per ``RequestData`` envelope, columns named as KQL names them."""
        with self._lock:
            envelopes = list(self.envelopes)
        rows = []
        for envelope in envelopes:
            data = envelope.get("data", {})
            if data.get("baseType") != "RequestData":
                continue
            base = data["baseData"]
            rows.append({"name": base.get("name"), "resultCode": base.get("responseCode"),
                         "success": base.get("success"), "url": base.get("url"),
                         "operation_Name": envelope.get("tags", {}).get("ai.operation.name"),
                         # the column Application Insights derives from the envelope's sampling percentage
                         "itemCount": round(100 / float(envelope.get("sampleRate") or 100)),
                         "customDimensions": base.get("properties", {})})
        return rows

    async def _track(self, request: Request) -> JSONResponse:
        # the exporter joins the endpoint and "/v2.1/track" as given, so a trailing slash doubles
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        envelopes = json.loads(body)
        with self._lock:
            self.envelopes.extend(envelopes)
        return JSONResponse({"itemsReceived": len(envelopes), "itemsAccepted": len(envelopes), "errors": []})
