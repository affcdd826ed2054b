"""The public bundle API: refresh, job status, bundle, one record, search and the legacy AI route.

- ``POST /bundles/{username}/refresh``: 200 ``cached`` or 202 with a job id (either path);
- ``GET /bundles/{username}/status?job_id=``: the job's progress, from the path that runs it;
- ``GET /bundles/{username}`` and ``/bundles/{username}/{repo}``: what the user's path serves;
- ``GET /bundles/{username}/search?q=&k=`` and ``POST /api/ai``: semantic search over the bundle.

A finished job is counted once in ``router_jobs_finished_total{path, outcome}``, by whichever
router replica sees it first (a compare-and-swap mark on the job).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from router.conditional import client_has, etag_of_bytes, not_modified, tagged
from router.endpoints.declarations import BAD_NAME, BODY, DEPENDENCIES, RATE_LIMITED
from router.errors import error_response
from router.openapi import EMPTY, Operation, Query, documented
from router.paths.base import job_seconds
from router.routing import choose_path_for, context_of, start_refresh
from router.schemas import QUERY
from router.validation import read_json_object, search_query
from services.core.jobs import Job, JobNotFound, JobStatus, JobStore
from services.core.keys import Namespace
from services.core.names import validate_repo_name, validate_username
from services.core.serving import ServingPath
from services.train.search import extractive_answer


def status_url(username: str, job_id: str) -> str:
    return f"/bundles/{username}/status?job_id={job_id}"


@documented(post=Operation(
    "Refresh a user's bundle", {200: "Cached", 202: "Accepted", **BAD_NAME, **BODY, **RATE_LIMITED, **DEPENDENCIES},
    description="200 `cached` when the bundle is current and not forced; otherwise 202 with a job id to poll. "
                "The same shapes whichever path serves the user. GitHub is never called on the request path.",
    body="RefreshRequest",
    links={202: {"JobStatus": ("job_status", {"username": "$request.path.username",
                                              "job_id": "$response.body#/job_id"})}}))
async def refresh(request: Request) -> Response:
    username = validate_username(request.path_params["username"])
    body = await read_json_object(request, {"force": bool})
    run = await start_refresh(request, username, body.get("force", False))
    if run.job is None:
        return JSONResponse(run.cached.answer(username, run.path))
    url = status_url(username, run.job.job_id)
    return JSONResponse({"status": "processing", "username": username, "path": run.path,
                         "job_id": run.job.job_id, "status_url": url}, status_code=202, headers={"Location": url})


async def load_job(jobs: JobStore, username: str, job_id: str | None) -> Job:
    if not job_id:
        raise HTTPException(400, "query parameter job_id is required")
    try:
        job = await run_in_threadpool(jobs.get, job_id)
    except JobNotFound:
        raise HTTPException(404, "unknown or expired job") from None
    if job.username != username or job.mode == Namespace.SHADOW or job.extra.get("shadow"):
        raise HTTPException(404, "unknown or expired job")
    return job


def first_report(jobs: JobStore, job_id: str) -> bool:
    """Mark a finished job as counted; True only for the caller that marked it."""
    marked = []

    def change(current: Job) -> bool | None:
        if current.extra.get("reported"):
            return False
        current.extra["reported"] = True
        marked.append(True)
        return None

    jobs.update(job_id, change)
    return bool(marked)


@documented(get=Operation(
    "Status of a refresh job", {200: "JobStatus", **BAD_NAME, 404: "Error", **DEPENDENCIES},
    description="On the queue path `total_repos` and `completed_repos` count repos as they finish. The legacy "
                "app (Durable Functions) reports no progress: both are null until it completed, and `legacy` "
                "carries its `runtime_status` and `custom_status`.",
    query=(Query("job_id", {"type": "string", "pattern": "^[0-9a-f]{32}$"}, required=True),)))
async def job_status(request: Request) -> Response:
    context = context_of(request)
    jobs = context.pipeline.backends.jobs
    username = validate_username(request.path_params["username"])
    job = await load_job(jobs, username, request.query_params.get("job_id"))
    path = ServingPath(job.extra.get("path", ServingPath.QUEUE))
    request.state.path = path.value
    view = await context.paths[path].status(job)
    if JobStatus(view["status"]).terminal and await run_in_threadpool(first_report, jobs, job.job_id):
        context.metrics.jobs.labels(path.value, view["status"]).inc()
        seconds = job_seconds(await run_in_threadpool(jobs.get, job.job_id))  # the finished job, once
        if seconds is not None:
            context.pipeline.backends.observations.job_finished(path.value, view["status"], seconds)
    return JSONResponse(view)


def _json_tagged(request: Request, code: int, payload: dict[str, Any]) -> Response:
    """A bundle or record answer with an ETag of its bytes (errors go out untagged)."""
    response = JSONResponse(payload, status_code=code)
    return tagged(request, response.body, etag_of_bytes(response.body)) if code == 200 else response


CONDITIONAL = ("Answers carry an `ETag`; send it back in `If-None-Match` and an unchanged answer is a 304 "
               "without a body.")


@documented(get=Operation("The merged bundle, from the user's path",
                          {200: "Bundle", 304: EMPTY, **BAD_NAME, 404: "Error", **DEPENDENCIES},
                          description=CONDITIONAL))
async def bundle(request: Request) -> Response:
    context = context_of(request)
    username = validate_username(request.path_params["username"])
    path, _flags = await choose_path_for(request, username)
    if path is ServingPath.QUEUE:  # the stored records go out as stored: no decode, no re-encode
        answer = await context.queue.bundle_bytes(username, skip=lambda etag: client_has(request, etag))
        if answer is None:
            return error_response(404, f"No valid bundle found for '{username}'")
        etag, body = answer
        if body is None:
            return not_modified(etag)
        return Response(body, media_type="application/json", headers={"ETag": etag})
    code, payload = await context.paths[path].bundle(username)
    return _json_tagged(request, code, payload)


@documented(get=Operation("One repo's record, from the user's path",
                          {200: "Record", 304: EMPTY, **BAD_NAME, 404: "Error", **DEPENDENCIES},
                          description=CONDITIONAL))
async def repo(request: Request) -> Response:
    context = context_of(request)
    username = validate_username(request.path_params["username"])
    name = validate_repo_name(request.path_params["repo"])
    path, _flags = await choose_path_for(request, username)
    code, body = await context.paths[path].repo(username, name)
    return _json_tagged(request, code, body)


async def _search(request: Request, username: str, query: str, k: int) -> dict[str, Any]:
    context = context_of(request)
    path, _flags = await choose_path_for(request, username)
    code, body = await context.paths[path].bundle(username)
    if code != 200:
        raise HTTPException(404, f"No valid bundle found for '{username}': refresh it first")
    try:
        result = await run_in_threadpool(context.search[path].search, username, body["data"], query, k)
    except ImportError as exc:  # a deployment without the training extra
        raise HTTPException(503, "semantic search needs the training extra (pip install 'cloudfolio[train]'): "
                                 f"{exc}") from None
    return {"username": username, "path": path.value, **result}


@documented(get=Operation(
    "Rank the user's repos for a question", {200: "SearchResult", **BAD_NAME, 404: "Error", **DEPENDENCIES},
    description="Cosine similarity between the query and repo texts embedded with the user's fine-tuned model; the "
                "base model (and a note saying so) when none is trained yet. 503 when the deployment has no "
                "training extra.",
    query=(Query("q", QUERY, required=True),
           Query("k", {"type": "integer", "minimum": 1, "maximum": 20, "default": 5}))))
async def search(request: Request) -> Response:
    username = validate_username(request.path_params["username"])
    query = search_query(request.query_params.get("q", ""), "query parameter q is required (1-500 characters)")
    try:
        k = int(request.query_params.get("k", "5"))
    except ValueError:
        raise HTTPException(400, "k must be an integer between 1 and 20") from None
    if not 1 <= k <= 20:
        raise HTTPException(400, "k must be an integer between 1 and 20")
    return JSONResponse(await _search(request, username, query, k))


@documented(post=Operation(
    "Legacy question route: ranked repos and an extractive answer (no external LLM)",
    {200: "AiAnswer", **BODY, 404: "Error", **DEPENDENCIES}, body="AiQuestion", body_required=True))
async def legacy_ai(request: Request) -> Response:
    body = await read_json_object(request, {"query": str, "username": str, "instance_id": str,
                                            "status_query_url": str}, required=("query",), allow_empty=False)
    query = search_query(body["query"], "Request body must contain 'query' field (1-500 characters)")
    username = validate_username(body.get("username", "yungryce"))
    result = await _search(request, username, query, 3)
    return JSONResponse({
        "response": extractive_answer(query, result["results"]),
        "repositories_used": [{"name": r["repo"], "relevance_score": r["score"]} for r in result["results"]],
        "total_repositories": len(result["results"]),
        "query": query,
        "model": result["model"],
        "path": result["path"],
    })
