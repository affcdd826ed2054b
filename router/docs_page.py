"""``/docs``: a self-contained page that renders ``/openapi.json`` (no CDN, no inline script or style).

The page loads ``/docs.js``; the script escapes every text it shows and turns the document's
``code`` spans into ``<code>`` elements, so descriptions read as written.
"""

from __future__ import annotations

DOCS_CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:0 .2rem}.op{border-left:4px solid #4a7;padding:.3rem .8rem;margin:.6rem 0}
.method{font-weight:bold;text-transform:uppercase}.muted{color:#666}
"""

DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CloudFolio gateway API</title>
<link rel="stylesheet" href="/docs.css"></head>
<body><h1>CloudFolio gateway API</h1><p class="muted">Rendered from <a href="/openapi.json">/openapi.json</a>.</p>
<div id="ops">Loading...</div><script src="/docs.js"></script></body></html>
"""

DOCS_JS = """'use strict';
function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;',
                                                  "'": '&#39;'}[c]));
}
function prose(text) {
  return escapeHtml(text || '').replace(/`([^`]+)`/g, '<code>$1</code>');
}
fetch('/openapi.json').then(r => r.json()).then(spec => {
  const out = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const codes = Object.entries(op.responses || {})
        .map(([code, r]) => `<code>${escapeHtml(code)}</code> ${prose(r.description)}`).join(', ');
      out.push(`<div class="op"><span class="method">${escapeHtml(method)}</span> <code>${escapeHtml(path)}</code>` +
        `<div>${prose(op.summary)}</div><div class="muted">${prose(op.description)}</div>` +
        `<div class="muted">responses: ${codes}</div></div>`);
    }
  }
  document.getElementById('ops').innerHTML = out.join('');
});
"""
