"""Secrets out of text meant for people: URLs with credentials or keys in them.

:func:`redact_url` drops a URL's user and password and masks query values whose names mark them
as credentials (``code``, ``sig``, ``token``, ``key``...), so a URL can be printed or logged;
:func:`redact_text` does the latter for any text (every log line goes through it).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit

#: Query parameter names whose values are credentials (Azure Functions' ``code``, SAS ``sig``...).
SECRET_PARAMETERS = frozenset({"code", "sig", "token", "access_token", "key", "api_key", "apikey", "password",
                               "secret", "client_secret"})


def redact_url(url: str) -> str:
    if not url:
        return ""
    parts = urlsplit(url)
    netloc = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    query = parts.query
    if query:
        pairs = [(k, "****" if k.lower() in SECRET_PARAMETERS else v)
                 for k, v in parse_qsl(query, keep_blank_values=True)]
        query = urlencode(pairs, safe="*{}")
    return parts._replace(netloc=netloc, query=query).geturl()


_SECRET_IN_TEXT = re.compile(r"(?i)([?&;](?:" + "|".join(sorted(SECRET_PARAMETERS)) + r")=)[^&\s\"'<>]+")


#: ``scheme://user:password@`` in a URL within text.
_USERINFO_IN_TEXT = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@")


def redact_text(text: str) -> str:
    """``text`` with the value of every credential-named query parameter of any URL in it masked, and
    any URL's ``user:password@`` replaced by ``****@``."""
    return _USERINFO_IN_TEXT.sub(r"\1****@", _SECRET_IN_TEXT.sub(r"\1****", text))
