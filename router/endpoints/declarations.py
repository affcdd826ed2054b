"""The statuses most endpoints share, named once, for their OpenAPI declarations."""

from __future__ import annotations

#: A path with a ``{username}`` (or ``{repo}``) answers 400 for a name GitHub would not accept.
BAD_NAME = {400: "Error"}
#: Any endpoint reading storage, the broker or the legacy app can find one of them unavailable.
DEPENDENCIES = {502: "Error", 503: "Error"}
#: An endpoint reading a JSON body.
BODY = {400: "Error", 413: "Error", 422: "Error"}
#: The admin API's bearer check.
ADMIN = {401: "Error", 403: "Error"}
#: A refresh is rate limited per client and per user.
RATE_LIMITED = {429: "RateLimited"}
