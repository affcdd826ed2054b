"""The router's OpenAPI document (``/openapi.json``) and a self-contained docs page (``/docs``).

Written by hand rather than generated, so it says exactly what each route answers; a test checks
that every route of the app appears here.
"""

from __future__ import annotations

from typing import Any


def _json(description: str, schema: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{schema}"}
    return {"description": description, "content": {"application/json": {"schema": ref}}}


_ERROR = _json("JSON error", "Error")
_USERNAME = {"name": "username", "in": "path", "required": True, "description": "GitHub login",
             "schema": {"type": "string", "pattern": "^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$"}}
_REPO = {"name": "repo", "in": "path", "required": True,
         "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,100}$"}}
_BEARER = [{"bearer": []}]


#: The document itself: a declarative table, served as it is.
OPENAPI: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "CloudFolio gateway", "version": "0.1.0",
                 "description": "Portfolio bundles, served by the queue path or the legacy orchestrator "
                                "according to the rollout flags. Errors are always JSON: {\"error\": \"...\"}."},
        "paths": {
            "/bundles/{username}/refresh": {"post": {
                "summary": "Refresh a user's bundle",
                "description": "200 `cached` when the bundle is current and not forced; otherwise 202 with a job id. "
                               "The same shape whichever path serves it. Never calls GitHub on the request path.",
                "parameters": [_USERNAME],
                "requestBody": {"required": False, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": False,
                    "properties": {"force": {"type": "boolean", "default": False}}}}}},
                "responses": {"200": _json("bundle is current", "Cached"), "202": _json("job started", "Accepted"),
                              "400": _ERROR, "413": _ERROR, "422": _ERROR, "503": _ERROR}}},
            "/bundles/{username}/status": {"get": {
                "summary": "Status of a refresh job", "parameters": [_USERNAME, {
                    "name": "job_id", "in": "query", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": _json("job status", "JobStatus"), "400": _ERROR, "404": _ERROR}}},
            "/bundles/{username}/search": {"get": {
                "summary": "Rank the user's repos for a question",
                "description": "Cosine similarity between the query and repo texts embedded with the user's "
                               "fine-tuned model; the base model (and a note saying so) when none is trained yet.",
                "parameters": [_USERNAME, {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}},
                               {"name": "k", "in": "query", "schema": {"type": "integer", "default": 5}}],
                "responses": {"200": {"description": "ranked repos with scores and the model used"}, "400": _ERROR,
                              "404": _ERROR}}},
            "/api/ai": {"post": {
                "summary": "Legacy question route: ranked repos and an extractive answer (no external LLM)",
                "responses": {"200": {"description": "answer"}, "400": _ERROR, "404": _ERROR, "422": _ERROR}}},
            "/bundles/{username}": {"get": {
                "summary": "The merged bundle (from the user's path)", "parameters": [_USERNAME],
                "responses": {"200": _json("bundle", "Bundle"), "400": _ERROR, "404": _ERROR, "503": _ERROR}}},
            "/bundles/{username}/{repo}": {"get": {
                "summary": "One repo's record", "parameters": [_USERNAME, _REPO],
                "responses": {"200": {"description": "record"}, "400": _ERROR, "404": _ERROR}}},
            "/api/orchestrator_start": {"post": {
                "summary": "Legacy start route (front end compatibility)",
                "description": "Body {username, force_refresh} or a GitHub push webhook. Answers as the legacy "
                               "Durable Functions app: 200 cached, or 202 with the management payload.",
                "responses": {"200": {"description": "cached"}, "202": {"description": "Durable management payload"},
                              "400": _ERROR, "422": _ERROR}}},
            "/api/bundles/{username}": {"get": {"summary": "Legacy bundle route", "parameters": [_USERNAME],
                                                "responses": {"200": _json("bundle", "Bundle"), "404": _ERROR}}},
            "/runtime/webhooks/durabletask/instances/{job_id}": {"get": {
                "summary": "Durable-style status of a queue-path job started through /api/orchestrator_start",
                "parameters": [{"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "finished"}, "202": {"description": "running"},
                              "404": {"description": "unknown instance"}}}},
            "/health": {"get": {"summary": "Liveness", "responses": {"200": {"description": "alive"}}}},
            "/ready": {"get": {"summary": "Readiness: storage, broker, flag store, legacy app",
                               "responses": {"200": {"description": "ready"}, "503": {"description": "not ready"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text"}}}},
            "/admin/rollout": {
                "get": {"summary": "Rollout flags in force", "security": _BEARER,
                        "responses": {"200": _json("flags", "Rollout"), "401": _ERROR, "403": _ERROR}},
                "put": {"summary": "Change rollout flags", "security": _BEARER,
                        "requestBody": {"required": True, "content": {"application/json": {"schema": {
                            "$ref": "#/components/schemas/RolloutChange"}}}},
                        "responses": {"200": _json("flags", "Rollout"), "401": _ERROR, "403": _ERROR, "409": _ERROR,
                                      "422": _ERROR}}},
            "/admin/shadow": {"get": {"summary": "Latest shadow comparisons", "security": _BEARER,
                                      "responses": {"200": {"description": "comparisons"}, "401": _ERROR,
                                                    "403": _ERROR}}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "Cached": {"type": "object", "properties": {
                    "status": {"const": "cached"}, "path": {"enum": ["queue", "legacy"]},
                    "bundle_fingerprint": {"type": "string"}}},
                "Accepted": {"type": "object", "properties": {
                    "status": {"const": "processing"}, "job_id": {"type": "string"}, "status_url": {"type": "string"},
                    "path": {"enum": ["queue", "legacy"]}}},
                "JobStatus": {"type": "object", "properties": {
                    "status": {"enum": ["processing", "completed", "failed"]},
                    "total_repos": {"type": ["integer", "null"]},
                    "completed_repos": {"type": "integer"}, "failed_repos": {"type": "array"},
                    "created_at": {"type": "string"}, "path": {"enum": ["queue", "legacy"]},
                    "bundle_fingerprint": {"type": ["string", "null"]}}},
                "Bundle": {"type": "object", "properties": {
                    "username": {"type": "string"}, "fingerprint": {"type": "string"}, "path": {"type": "string"},
                    "data": {"type": "array", "items": {"type": "object"}}}},
                "Rollout": {"type": "object", "properties": {"flags": {"type": "object"}, "store": {"type": "string"}}},
                "RolloutChange": {"type": "object", "additionalProperties": False, "properties": {
                    "percentage": {"type": "number", "minimum": 0, "maximum": 100},
                    "stickiness": {"enum": ["sticky", "random"]}, "shadow": {"type": "boolean"},
                    "shadow_sample_pct": {"type": "number", "minimum": 0, "maximum": 100},
                    "reason": {"type": "string"}}},
            },
        },
}


def openapi_schema() -> dict[str, Any]:
    return OPENAPI


DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CloudFolio gateway API</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h2{margin-top:2rem}code{background:#f3f3f3;padding:0 .2rem}
.op{border-left:4px solid #4a7;padding:.3rem .8rem;margin:.6rem 0}
.method{font-weight:bold;text-transform:uppercase}.muted{color:#666}</style></head>
<body><h1>CloudFolio gateway API</h1><p class="muted">Rendered from <a href="/openapi.json">/openapi.json</a>.</p>
<div id="ops">Loading...</div>
<script>
fetch('/openapi.json').then(r => r.json()).then(spec => {
  const out = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const codes = Object.keys(op.responses || {}).join(', ');
      out.push(`<div class="op"><span class="method">${method}</span> <code>${path}</code>` +
        `<div>${op.summary || ''}</div><div class="muted">${op.description || ''}</div>` +
        `<div class="muted">responses: ${codes}</div></div>`);
    }
  }
  document.getElementById('ops').innerHTML = out.join('');
});
</script></body></html>
"""
