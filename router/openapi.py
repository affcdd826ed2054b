"""The OpenAPI document, generated from the route declarations: one source for routes and docs.

Each endpoint declares what it answers with :func:`documented` (a summary, the statuses it can
return and the schema of each, its request body and query parameters); :func:`openapi_document`
walks the app's routes and builds ``/openapi.json`` from those declarations and the schemas in
:mod:`router.schemas`. A route without a declaration fails the test suite, and the tests check
every answer's status and body against the declaration of the route that gave it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import BaseRoute, Route

from router.schemas import JOB_ID_PATTERN, REPO, SCHEMAS, USERNAME

#: Path parameters by name: the same rules the code enforces.
PATH_PARAMETERS = {
    "username": {"description": "GitHub login", "schema": USERNAME},
    "repo": {"description": "repository name", "schema": REPO},
    "action": {"description": "the dashboard control", "schema": {"type": "string",
                                                                   "enum": ["pause", "reenable", "rollback"]}},
    "job_id": {"description": "job id (32 hex digits)", "schema": {"type": "string", "pattern": JOB_ID_PATTERN}},
}
#: Response bodies that are not JSON components.
TEXT, EMPTY = "text", "empty"
DESCRIPTIONS = {200: "OK", 202: "accepted, in progress", 303: "see other (after a form post)", 304: "not modified",
                400: "bad input", 401: "no bearer token",
                403: "wrong token, or the admin API is disabled", 404: "not found", 409: "refused in this state",
                413: "body too large", 422: "a field has the wrong type or value", 429: "too many requests",
                502: "the legacy app answered outside the Durable API", 503: "a dependency is unavailable; retry"}


@dataclass(frozen=True)
class Query:
    name: str
    schema: Mapping[str, Any]
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class Operation:
    """What one method of one route answers. ``responses`` maps a status to a schema name in
    :data:`router.schemas.SCHEMAS`, or ``text`` / ``empty``."""

    summary: str
    responses: Mapping[int, str]
    description: str = ""
    body: str | None = None
    body_required: bool = False
    #: The fields of a form body (``application/x-www-form-urlencoded``, all strings), for HTML forms' posts.
    form: tuple[str, ...] = ()
    query: tuple[Query, ...] = ()
    admin: bool = False
    media_type: str = "application/json"
    notes: Mapping[int, str] = field(default_factory=dict)
    #: OpenAPI links per status: ``{status: {name: (operation id, {parameter: runtime expression})}}``
    links: Mapping[int, Mapping[str, tuple[str, Mapping[str, str]]]] = field(default_factory=dict)


def documented(**operations: Operation) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Attach ``{method: Operation}`` to an endpoint (``get=...``, ``put=...``)."""

    def attach(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        endpoint.__openapi__ = {method.upper(): op for method, op in operations.items()}  # type: ignore[attr-defined]
        return endpoint

    return attach


def operation_of(route: Route, method: str) -> Operation | None:
    return getattr(route.endpoint, "__openapi__", {}).get(method.upper())


def operation_id(endpoint_name: str, method: str) -> str:
    """``bundles_refresh`` style ids: the endpoint's name, and the method where one endpoint has several."""
    return endpoint_name if method in ("GET", "POST") else f"{endpoint_name}_{method.lower()}"


def _response(status: int, body: str, op: Operation) -> dict[str, Any]:
    description = op.notes.get(status, DESCRIPTIONS.get(status, "answer"))
    if body == EMPTY:
        return {"description": description}
    if body == TEXT:
        return {"description": description, "content": {op.media_type: {"schema": {"type": "string"}}}}
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}}}


def _operation(path: str, method: str, name: str, op: Operation) -> dict[str, Any]:
    parameters = [{"name": name, "in": "path", "required": True, **PATH_PARAMETERS[name]}
                  for name in re.findall(r"{(\w+)}", path)]
    parameters += [{"name": q.name, "in": "query", "required": q.required, "schema": dict(q.schema),
                    **({"description": q.description} if q.description else {})} for q in op.query]
    responses = {str(status): _response(status, body, op) for status, body in sorted(op.responses.items())}
    for status, links in op.links.items():
        responses[str(status)]["links"] = {link: {"operationId": target, "parameters": dict(parameters_)}
                                           for link, (target, parameters_) in links.items()}
    spec: dict[str, Any] = {"operationId": operation_id(name, method), "summary": op.summary,
                            "parameters": parameters, "responses": responses}
    if op.description:
        spec["description"] = op.description
    if op.body:
        spec["requestBody"] = {"required": op.body_required, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{op.body}"}}}}
    if op.form:
        schema = {"type": "object", "properties": {name: {"type": "string"} for name in op.form}}
        spec["requestBody"] = {"required": False, "content": {"application/x-www-form-urlencoded": {"schema": schema}}}
    if op.admin:
        spec["security"] = [{"bearer": []}]
    return spec


def openapi_document(routes: Iterable[BaseRoute], version: str = "0.1.0") -> dict[str, Any]:
    """The OpenAPI 3.1 document of every declared route."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not isinstance(route, Route):
            continue
        for method in sorted(route.methods or ()):
            op = operation_of(route, method)
            if op is not None and method != "HEAD":
                paths.setdefault(route.path, {})[method.lower()] = _operation(route.path, method, route.name, op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "CloudFolio gateway", "version": version,
                 "description": "Portfolio bundles, served by the queue path or the legacy orchestrator according "
                                "to the rollout flags. Errors are always JSON: `{\"error\": \"...\"}`."},
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": SCHEMAS},
    }
