"""Every answer a test receives is checked against the OpenAPI declaration of its route.

Attach :func:`conformance_hook` to an ``httpx.Client``'s response hooks: an answer whose status
the route does not declare, or whose JSON body does not match the declared schema, fails the test
that received it, so every router test is also a test of the documentation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import httpx
import jsonschema
from starlette.routing import BaseRoute, Match, Route

from router.openapi import EMPTY, TEXT, operation_of
from router.schemas import SCHEMAS


def conformance_hook(routes: Iterable[BaseRoute]) -> Callable[[httpx.Response], None]:
    declared = [route for route in routes if isinstance(route, Route)]

    def check(response: httpx.Response) -> None:
        request = response.request
        scope = {"type": "http", "path": request.url.path, "method": request.method, "root_path": ""}
        route = next((r for r in declared if r.matches(scope)[0] is Match.FULL), None)
        if route is None:
            return  # no route matched: Starlette's own 404/405
        operation = operation_of(route, request.method)
        assert operation is not None, f"{request.method} {route.path} has no OpenAPI declaration"
        status = response.status_code
        assert status in operation.responses, (
            f"{request.method} {route.path} answered {status}, which its declaration does not list "
            f"({sorted(operation.responses)})")
        body = operation.responses[status]
        if body in (TEXT, EMPTY):
            return
        response.read()
        try:
            jsonschema.validate(response.json(), SCHEMAS[body])
        except jsonschema.ValidationError as exc:
            raise AssertionError(f"{request.method} {route.path} {status}: the body does not match {body}: "
                                 f"{exc.message} at {list(exc.absolute_path)}") from None

    return check
