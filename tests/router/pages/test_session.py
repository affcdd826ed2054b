"""The dashboard session: signed with the admin token, expiring, never holding the token itself."""

from __future__ import annotations

from router.pages.session import SESSION_SECONDS, csrf_token, new_session, session_is_valid

TOKEN = "s3cret-admin-token"


def test_a_session_is_valid_until_it_expires_and_holds_no_token() -> None:
    now = [1_000_000.0]
    session = new_session(TOKEN, clock=lambda: now[0])
    assert TOKEN not in session and session_is_valid(session, TOKEN, clock=lambda: now[0])
    now[0] += SESSION_SECONDS - 1
    assert session_is_valid(session, TOKEN, clock=lambda: now[0])
    now[0] += 2
    assert not session_is_valid(session, TOKEN, clock=lambda: now[0]), "expired"


def test_a_tampered_or_foreign_session_is_refused() -> None:
    session = new_session(TOKEN)
    expiry, signature = session.split(".")
    assert not session_is_valid(f"{int(expiry) + 3600}.{signature}", TOKEN), "a longer expiry breaks the signature"
    assert not session_is_valid(session, "another-token"), "a changed admin token ends every session"
    for junk in ("", ".", "abc", "123.", f".{signature}", "12.34.56"):
        assert not session_is_valid(junk, TOKEN), junk
    assert not session_is_valid(session, ""), "no token configured: no session is valid"


def test_the_csrf_token_is_tied_to_the_session() -> None:
    first, second = new_session(TOKEN), new_session(TOKEN, clock=lambda: 5.0)
    assert csrf_token(first, TOKEN) == csrf_token(first, TOKEN) != csrf_token(second, TOKEN)
    assert csrf_token(first, TOKEN) != csrf_token(first, "another-token")
