"""Request body validation: every problem becomes a 4xx with a JSON error naming it.

- a body over the limit: 413 (enforced while it streams, by :mod:`router.middleware.body_limit`);
- not JSON, not an object, or nested deeper than :data:`MAX_DEPTH`: 400;
- an unknown field or a value of the wrong type: 422, naming the field.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

from router.schemas import QUERY_BLANKS

#: Largest request body accepted, in bytes (the default of CLOUDFOLIO_MAX_BODY_BYTES).
MAX_BODY_BYTES = 16 * 1024
#: Deepest nesting of arrays and objects accepted: no answer of ours needs more than a few levels.
MAX_DEPTH = 32

Fields = dict[str, type | tuple[type, ...]]


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if deepest > MAX_DEPTH:
                return deepest
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def parse_json_object(raw: bytes, fields: Fields, *, required: tuple[str, ...] = (), allow_empty: bool = True,
                      strict: bool = True) -> dict[str, Any]:
    """Parse and check a JSON object body against ``fields`` (name -> accepted types).

    ``strict=False`` ignores fields not in ``fields`` (a GitHub webhook body carries dozens)."""
    if not raw:  # no body at all; whitespace alone is not JSON and gets the 400 below
        if allow_empty and not required:
            return {}
        raise HTTPException(400, "request body must be a JSON object")
    try:
        body = json.loads(raw)
    except RecursionError:
        raise HTTPException(400, f"request body nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(400, "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "request body must be a JSON object")
    if _depth(body) > MAX_DEPTH:
        raise HTTPException(400, f"request body nested deeper than {MAX_DEPTH} levels")
    unknown = sorted(set(body) - set(fields))
    if unknown and strict:
        raise HTTPException(422, f"unknown field(s): {', '.join(unknown)}; allowed: {', '.join(sorted(fields))}")
    for name in required:
        if name not in body:
            raise HTTPException(422, f"missing field: {name}")
    for name, value in body.items():
        if name in fields:
            check_type(name, value, fields[name])
    return body


def check_type(name: str, value: Any, accepted: type | tuple[type, ...]) -> None:
    """422 unless ``value`` is one of the ``accepted`` types (a bool is not a number here)."""
    kinds = accepted if isinstance(accepted, tuple) else (accepted,)
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        raise HTTPException(422, f"field {name!r} has the wrong type: {type(value).__name__}")


async def read_json_object(request: Request, fields: Fields, **options: Any) -> dict[str, Any]:
    """Read the (size-limited) body and parse it with :func:`parse_json_object`."""
    return parse_json_object(await request.body(), fields, **options)


def search_query(value: str, message: str) -> str:
    """A search query of 1-500 characters, not only white space (the ``QUERY`` schema's rule)."""
    if not value.strip(QUERY_BLANKS) or len(value) > 500:
        raise HTTPException(400, message)
    return value
