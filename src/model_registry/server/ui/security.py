"""The web UI's sign-in cookie, CSRF check and security headers.

* With auth on, the login page takes a token (the server's admin token or an issued one); it is
  kept in an ``HttpOnly``, ``SameSite=Strict`` cookie (script cannot read it, other sites cannot
  send it) and resolved on every page by the same
  :class:`~model_registry.server.auth.RequestAuth` as the API. The chosen project is kept in a
  cookie of its own (a name, no secret).
* Every write (a POST form, the login included) carries a CSRF token: a random value kept in its
  own ``HttpOnly`` cookie and repeated in a hidden form field (double submit). A POST whose
  field does not match, or whose ``Origin`` names another site, is refused.
* Every answer carries a Content-Security-Policy that allows scripts and styles from the
  server's own ``/ui/static/`` files only: no inline script, no ``eval``, no other origin.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from aiohttp import web

__all__ = [
    "CSP",
    "CSRF_COOKIE",
    "PROJECT_COOKIE",
    "TOKEN_COOKIE",
    "csrf_token",
    "same_origin",
    "security_headers",
    "set_cookie",
]

TOKEN_COOKIE = "mr_token"
CSRF_COOKIE = "mr_csrf"
PROJECT_COOKIE = "mr_project"
COOKIE_PATH = "/ui"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
"""No inline script or style, nothing from another origin, no framing."""


def security_headers(response: web.StreamResponse) -> None:
    """Add the CSP and its companions to a UI answer."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers.setdefault("Cache-Control", "no-store")


def set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str) -> None:
    """Set a UI cookie: ``HttpOnly``, ``SameSite=Strict``, ``Secure`` over TLS, path ``/ui``."""
    response.set_cookie(
        name,
        value,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )


def csrf_token(request: web.Request) -> tuple[str, bool]:
    """The request's CSRF token, and whether it is new (then the answer must set the cookie)."""
    current = request.cookies.get(CSRF_COOKIE, "")
    if len(current) >= 32:
        return current, False
    return secrets.token_urlsafe(32), True


def csrf_ok(request: web.Request, form_value: object) -> bool:
    """Whether a POST's form field matches its CSRF cookie and it comes from this origin."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if len(cookie) < 32 or not isinstance(form_value, str):
        return False
    if not hmac.compare_digest(cookie.encode(), form_value.encode()):
        return False
    return same_origin(request)


def same_origin(request: web.Request) -> bool:
    """False when the browser says the request comes from another origin than this server."""
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        # Browsers send Origin on every POST; "null" comes from sandboxed or privacy-mode
        # documents, which the CSRF token (not the origin) then has to vouch for.
        return origin is None or request.method == "GET"
    return urlsplit(origin).netloc == request.host
