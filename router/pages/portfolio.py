"""``/portfolio/{username}``: the front end's refresh flow, as a reference page over the public API.

The server renders only the shell, with the (validated, escaped) username in a data attribute;
``/static/portfolio.js`` does the rest with the public API alone: show the stored bundle, start a
refresh, poll the job every 2 s (backing off on errors, 429 and 5xx, honouring ``Retry-After``),
show "Syncing N of M repositories…" with a progress bar, the repo cards when done, the reasons and
a retry button on failure, a time-out after 5 minutes, and a search box. It works on both paths.
"""

from __future__ import annotations

from html import escape

#: The assets under ``/static/`` and their media types (nothing else is served there).
ASSETS = {"portfolio.js": "application/javascript", "dashboard.js": "application/javascript", "pages.css": "text/css"}

_SHELL = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="stylesheet" href="/static/pages.css"></head>
<body><main id="app" data-username="{username}">
<header><h1>{title}</h1><button id="refresh" type="button">Refresh from GitHub</button></header>
<p id="status" role="status" aria-live="polite">Loading…</p>
<progress id="progress" hidden></progress>
<ul id="reasons" class="reasons" hidden></ul>
<button id="retry" type="button" hidden>Retry</button>
<form id="search" role="search"><input id="query" name="q" type="search" maxlength="500"
 placeholder="Which projects use Kubernetes?" aria-label="Search the portfolio">
<button type="submit">Search</button></form>
<ol id="results" class="results"></ol>
<section id="cards" class="cards" aria-label="Repositories"></section>
</main><script src="/static/portfolio.js"></script></body></html>
"""


def portfolio_page(username: str) -> str:
    """The page's HTML for a validated username (escaped again: the shell never trusts its input)."""
    return _SHELL.format(username=escape(username, quote=True), title=escape(f"{username}'s portfolio"))
