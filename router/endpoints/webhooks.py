"""``POST /webhooks/github``: GitHub's push and repository events refresh the portfolio they change.

Order of checks, each answered before the next runs:

1. no ``CLOUDFOLIO_GITHUB_WEBHOOK_SECRET`` configured: 403 (the route is off, never open);
2. the body over ``CLOUDFOLIO_GITHUB_WEBHOOK_MAX_BYTES``: 413 (:class:`router.middleware.body_limit.BodyLimit`);
3. ``X-Hub-Signature-256`` missing or wrong: 401, nothing parsed, stored or queued;
4. no ``X-GitHub-Event`` or ``X-GitHub-Delivery``, or a payload GitHub would not send: 400;
5. a delivery id seen before (GitHub's redelivery): 200 ``duplicate``, nothing done again;
6. the event's action (:func:`services.core.github_webhooks.action_for`): ``ping`` 200 ``pong``;
   an ignored event 202 with why; a refresh 202 ``refreshing`` with the job, on the user's path
   (the queue path's plan syncs only the repos whose metadata changed).

A delivery is remembered (``webhooks/github/<delivery id>.json``, create-only) once its action was
taken, so a delivery that failed (503) can be redelivered from GitHub's settings page. Signed
deliveries skip the refresh rate limits (they all come from GitHub's few addresses) and the
freshness window (GitHub just said the source changed).
"""

from __future__ import annotations

import contextlib
import json
import logging
from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from router.endpoints.declarations import DEPENDENCIES
from router.openapi import Operation, documented
from router.routing import context_of, start_refresh
from router.validation import parse_json_object
from services.core.github_webhooks import DELIVERY_ID, action_for, signature_is_valid
from services.core.storage import AlreadyExists, BlobNotFound, StorageBackend

log = logging.getLogger("cloudfolio.webhooks")
SEEN = "webhooks/github/{}.json"


def _seen(storage: StorageBackend, delivery: str) -> bool:
    try:
        storage.head(SEEN.format(delivery))
        return True
    except BlobNotFound:
        return False


def _remember(storage: StorageBackend, delivery: str, record: dict[str, object]) -> None:
    # a concurrent redelivery may have taken the same action first: refreshes are idempotent
    with contextlib.suppress(AlreadyExists):
        storage.put(SEEN.format(delivery), json.dumps(record).encode(), create_only=True)


@documented(post=Operation(
    "A GitHub webhook delivery", {200: "WebhookAnswer", 202: "WebhookAnswer", 400: "Error", 401: "Error",
                                  403: "Error", 413: "Error", **DEPENDENCIES},
    description="Signed with the webhook's secret (`X-Hub-Signature-256`). `push` to a public repo and `repository` "
                "events refresh the owner's portfolio; `ping` answers `pong`; a redelivered delivery id is "
                "acknowledged and ignored."))
async def github(request: Request) -> Response:
    context = context_of(request)
    secret = context.settings.github_webhook_secret
    if not secret:
        raise HTTPException(403, "GitHub webhooks are disabled: set CLOUDFOLIO_GITHUB_WEBHOOK_SECRET to enable them")
    body = await request.body()
    if not signature_is_valid(secret, body, request.headers.get("x-hub-signature-256")):
        log.warning("GitHub webhook refused: missing or wrong X-Hub-Signature-256")
        raise HTTPException(401, "missing or invalid X-Hub-Signature-256")
    event, delivery = request.headers.get("x-github-event", ""), request.headers.get("x-github-delivery", "")
    if not event or not DELIVERY_ID.match(delivery):
        raise HTTPException(400, "X-GitHub-Event and X-GitHub-Delivery (a GUID) are required")
    storage = context.pipeline.backends.storage
    if await run_in_threadpool(_seen, storage, delivery):
        return JSONResponse({"status": "duplicate", "delivery": delivery, "why": "delivery already handled"})
    action = action_for(event, parse_json_object(body, {}, strict=False) if event != "ping" else {})
    answer: dict[str, object] = {"delivery": delivery, "why": action.why, "username": action.username}
    status = 202
    if action.kind == "pong":
        answer["status"], status = "pong", 200
    elif action.kind == "ignore" or action.username is None:  # a refresh always names its owner
        answer["status"] = "ignored"
    else:
        run = await start_refresh(request, action.username, False, source_changed=True)
        answer.update(status="refreshing", path=run.path, job_id=run.job.job_id if run.job else None)
    log.info("GitHub %s delivery %s: %s (%s)", event, delivery, answer["status"], action.why,
             extra={"username": action.username})
    await run_in_threadpool(_remember, storage, delivery, {"event": event, "status": answer["status"],
                                                           "at": datetime.now(UTC).isoformat()})
    return JSONResponse(answer, status_code=status)
