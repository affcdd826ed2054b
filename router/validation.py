"""Request body validation: every problem becomes a 4xx with a JSON error naming it.

- a body over the limit: 413; not JSON: 400; not an object: 400;
- an unknown field or a value of the wrong type: 422, naming the field.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

#: Largest request body accepted, in bytes.
MAX_BODY_BYTES = 16 * 1024


async def read_json_object(request: Request, fields: dict[str, type | tuple[type, ...]], *,
                           required: tuple[str, ...] = (), allow_empty: bool = True,
                           strict: bool = True) -> dict[str, Any]:
    """Read and check a JSON object body against ``fields`` (name -> accepted types).

    ``strict=False`` ignores fields not in ``fields`` (a GitHub webhook body carries dozens)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise HTTPException(413, f"request body over {MAX_BODY_BYTES} bytes")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise HTTPException(413, f"request body over {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        if allow_empty and not required:
            return {}
        raise HTTPException(400, "request body must be a JSON object")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(400, "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "request body must be a JSON object")
    unknown = sorted(set(body) - set(fields))
    if unknown and strict:
        raise HTTPException(422, f"unknown field(s): {', '.join(unknown)}; allowed: {', '.join(sorted(fields))}")
    for name in required:
        if name not in body:
            raise HTTPException(422, f"missing field: {name}")
    for name, value in body.items():
        if name not in fields:
            continue
        accepted = fields[name]
        # bool is an int in Python; a percentage must not accept true
        if isinstance(value, bool) and bool not in (accepted if isinstance(accepted, tuple) else (accepted,)):
            raise HTTPException(422, f"field {name!r} has the wrong type: {type(value).__name__}")
        if not isinstance(value, accepted):
            raise HTTPException(422, f"field {name!r} has the wrong type: {type(value).__name__}")
    return body
