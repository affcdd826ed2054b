"""JSON Schemas of every body the router reads or answers: one shape per answer, on both paths.

The OpenAPI document (:mod:`router.openapi`) references these as components, and the test suite
validates real answers of both paths against them, so the queue path and the legacy path cannot
drift apart unnoticed. ``additionalProperties: false`` on our own answers makes a new field a
documented decision.
"""

from __future__ import annotations

from typing import Any

# the rules of services.core.names, without look-arounds (generators of test data handle these better)
USERNAME_PATTERN = "^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$"
REPO_PATTERN = "^[A-Za-z0-9._-]{1,100}$"
JOB_ID_PATTERN = "^[0-9a-f]{32}$"
USERNAME = {"type": "string", "pattern": USERNAME_PATTERN, "maxLength": 39}
REPO = {"type": "string", "pattern": REPO_PATTERN, "not": {"enum": [".", ".."]}}
#: A search query holds a character other than ASCII white space (an explicit class: Python and ECMA
#: regular expressions disagree on what ``\S`` excludes); ``router.validation.search_query`` checks it.
QUERY_BLANKS = " \t\n\r\f\v"
QUERY = {"type": "string", "minLength": 1, "maxLength": 500, "pattern": "[^ \\t\\n\\r\\f\\v]"}

_STR = {"type": "string"}
_STR_OR_NULL = {"type": ["string", "null"]}
_INT_OR_NULL = {"type": ["integer", "null"]}
_PATH = {"enum": ["queue", "legacy"]}


def _object(properties: dict[str, Any], *, required: list[str] | None = None, extra: bool = False) -> dict[str, Any]:
    return {"type": "object", "properties": properties,
            "required": list(properties) if required is None else required, "additionalProperties": extra}


SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": _object({"error": _STR}),
    # 429: a refresh rate limit, or (ENABLE_QUOTA_ENFORCEMENT) a per-user quota
    "RateLimited": {"oneOf": [
        _object({"error": _STR, "limit": {"enum": ["per-client", "per-user"]}, "rate": _STR,
                 "retry_after_seconds": {"type": "integer", "minimum": 1}}),
        _object({"error": _STR, "quota": {"enum": ["refreshes_per_day", "cache_bytes", "trainings_per_week"]},
                 "used": {"type": "integer"}, "limit": {"type": "integer"},
                 "retry_after_seconds": {"type": "integer", "minimum": 1}}),
    ]},
    "Cached": _object({
        "status": {"const": "cached"}, "username": _STR, "path": _PATH, "bundle_fingerprint": _STR_OR_NULL,
        "repos_count": _INT_OR_NULL, "last_modified": _STR_OR_NULL, "size_bytes": _INT_OR_NULL, "cache_key": _STR,
        "verified_at": _STR_OR_NULL}),
    "Accepted": _object({"status": {"const": "processing"}, "username": _STR, "path": _PATH, "job_id": _STR,
                         "status_url": _STR}),
    "JobStatus": _object({
        "job_id": _STR, "status": {"enum": ["processing", "completed", "failed"]}, "path": _PATH,
        "total_repos": _INT_OR_NULL, "completed_repos": _INT_OR_NULL,
        "failed_repos": {"type": "array", "items": _object({"repo": _STR, "error": _STR})},
        "created_at": _STR, "bundle_fingerprint": _STR_OR_NULL, "reasons": {"type": "array", "items": _STR},
        "legacy": {"oneOf": [{"type": "null"}, _object({"runtime_status": _STR, "custom_status": {}})]}}),
    "Bundle": _object({"username": _STR, "fingerprint": _STR_OR_NULL, "path": _PATH, "last_modified": _STR,
                       "size_bytes": {"type": "integer"}, "data": {"type": "array", "items": {"type": "object"}}}),
    "Record": _object({"username": _STR, "repo": _STR, "fingerprint": _STR_OR_NULL, "path": _PATH,
                       "last_modified": _STR, "size_bytes": {"type": "integer"}, "data": {"type": "object"}}),
    "SearchResult": _object({
        "username": _STR, "path": _PATH, "query": _STR,
        "model": _object({"fine_tuned": {"type": "boolean"}, "fingerprint": _STR_OR_NULL, "base_model": _STR,
                          "note": _STR_OR_NULL}),
        "results": {"type": "array", "items": _object({"repo": _STR, "score": {"type": "number"},
                                                       "description": _STR, "matched_text": _STR})}}),
    "AiQuestion": _object({"query": QUERY,
                           "username": USERNAME, "instance_id": _STR,
                           "status_query_url": _STR}, required=["query"]),
    "AiAnswer": _object({
        "response": _STR, "total_repositories": {"type": "integer"}, "query": _STR, "path": _PATH,
        "repositories_used": {"type": "array", "items": _object({"name": _STR, "relevance_score": {"type": "number"}})},
        "model": {"type": "object"}}),
    "RefreshRequest": _object({"force": {"type": "boolean", "default": False}}, required=[]),
    "StartRequest": {"description": "{username, force_refresh}, or a GitHub push webhook body (whose other "
                                    "fields are ignored)", "oneOf": [
        _object({"username": USERNAME, "force_refresh": {"type": "boolean"}}, required=[]),
        {"type": "object", "required": ["repository"], "additionalProperties": True, "properties": {
            "repository": {"type": "object", "required": ["name", "owner"], "properties": {
                "name": REPO,
                "owner": {"type": "object", "required": ["login"], "properties": {"login": USERNAME}}}}}},
    ]},
    "LegacyCached": {"type": "object", "required": ["status", "bundle_fingerprint", "cache_key"],
                     "properties": {"status": {"const": "cached"}, "message": _STR, "timestamp": _STR,
                                    "cache_key": _STR, "repos_count": _INT_OR_NULL,
                                    "bundle_fingerprint": _STR_OR_NULL, "cache_info": {"type": "object"}},
                     "additionalProperties": True},
    "DurableManagement": {"type": "object", "required": ["id", "statusQueryGetUri"],
                          "properties": {"id": _STR, "statusQueryGetUri": _STR},
                          "additionalProperties": {"type": "string"}},
    "DurableStatus": _object({"name": _STR, "instanceId": _STR, "runtimeStatus": _STR, "input": {},
                              "customStatus": {}, "output": {}, "createdTime": _STR, "lastUpdatedTime": _STR}),
    "Health": _object({"status": {"const": "healthy"}, "timestamp": _STR}),
    "Ready": _object({"status": {"enum": ["ready", "degraded", "not ready"]},
                      "checks": _object({"storage": _STR, "broker": _STR, "flags": _STR, "legacy": _STR})}),
    "Rollout": _object({
        "flags": _object({"percentage": {"type": "number"}, "shadow": {"type": "boolean"},
                          "shadow_sample_pct": {"type": "number"}, "stickiness": {"enum": ["sticky", "random"]},
                          "locked": {"type": "boolean"}, "lock": _STR_OR_NULL,
                          "errors": {"type": "array", "items": _STR}}),
        "store": _STR, "ttl_seconds": {"type": "number"},
        "plan": {"type": "object", "description": "the rollout plan's stage (`cloudfolio rollout plan`): status, "
                 "step (0-based), entered_at, the last analysis with every gate's result; absent while the flag "
                 "store cannot be read",
                 "properties": {"status": {"enum": ["not_started", "running", "paused", "awaiting_confirmation",
                                                    "completed", "aborted", "rolled_back"]},
                                "step": {"type": "integer"}, "last": {"type": "object"}}}},
        required=["flags", "store", "ttl_seconds"]),  # no plan while the flag store cannot be read
    "RolloutChange": {
        "type": "object", "additionalProperties": False, "required": ["reason"], "minProperties": 2,
        "properties": {"percentage": {"type": "number", "minimum": 0, "maximum": 100},
                       "stickiness": {"enum": ["sticky", "random"]}, "shadow": {"type": "boolean"},
                       "shadow_sample_pct": {"type": "number", "minimum": 0, "maximum": 100},
                       "reason": {"type": "string", "minLength": 1, "pattern": "\\S"}}},
    "UsageReport": _object({"quotas": {"type": "object"}, "usage": {"type": "object"}, "states": {"type": "object"},
                            "total_users": {"type": "integer"}, "truncated": {"type": "boolean"},
                            "users": {"type": "array", "items": {"type": "object"}}}, required=["quotas"]),
    "ShadowReport": _object({"in_flight": {"type": "integer"}, "counts": {"type": "object"},
                             "recent": {"type": "array", "items": {"type": "object"}}}),
    "WebhookAnswer": _object({"status": {"enum": ["pong", "ignored", "refreshing", "duplicate"]}, "delivery": _STR,
                              "why": _STR, "username": _STR_OR_NULL, "path": _PATH, "job_id": _STR_OR_NULL},
                             required=["status", "delivery", "why"]),
}
