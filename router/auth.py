"""The admin API's bearer-token check.

No token configured means the admin API is disabled (403 for everyone), never open. A request
without a bearer token gets 401 with ``WWW-Authenticate: Bearer``; a wrong one gets 403. Tokens
are compared in constant time.
"""

from __future__ import annotations

import hmac

from starlette.exceptions import HTTPException
from starlette.requests import Request


def require_admin(request: Request, token: str) -> str:
    """Return who is acting (for change history), or raise 401/403."""
    if not token:
        raise HTTPException(403, "the admin API is disabled: set CLOUDFOLIO_ADMIN_TOKEN to enable it")
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise HTTPException(401, "admin API needs 'Authorization: Bearer <token>'",
                            headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise HTTPException(403, "invalid admin token")
    return f"admin@{request.client.host if request.client else 'unknown'}"
