"""HTML pages the router serves (no build step, no CDN): the portfolio page's shell and its assets.

Pages carry the security headers of :mod:`router.middleware.security_headers` (a CSP with no
inline script); every user value is escaped on the server and set as text by the scripts.
"""
