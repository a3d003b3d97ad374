"""Who may use the workbench, and the headers every answer carries (SPEC §9).

- **Token.** With ``[serve] token`` set (required off loopback), every request
  needs it: a browser logs in once through a form that sets an HttpOnly,
  SameSite=Strict cookie (an HMAC of the token, not the token); API clients send
  ``Authorization: Bearer TOKEN``. Both origins (workbench and replay) check it.
- **CSRF.** Every state-changing request carries ``X-CSRF-Token``: an HMAC, under
  a secret that never leaves this process, of the session. Pages embed it; a page
  of another origin (an archived page on the replay port, any web site) can
  neither read it nor guess it. Cookies do not isolate ports, so a cookie alone
  (double-submit) would not do: the replay origin could set one. Requests whose
  ``Origin`` is not the workbench's are refused too. A request authenticated by
  its ``Authorization`` header needs no CSRF token (browsers never add one).
- **Host.** Without a token the workbench answers only Host names of this
  machine (127.0.0.1, localhost, ::1, or the configured host): a DNS-rebinding
  site cannot borrow the reviewer's browser to reach it.
- **Headers.** A Content-Security-Policy allowing only the workbench's own style
  sheet and script, no framing, no referrer to other origins, no MIME sniffing, and
  Cross-Origin-Resource-Policy same-origin (no other origin can even embed a
  workbench answer, JSON included).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

SESSION_COOKIE = "archiver_session"
CSRF_HEADER = "X-CSRF-Token"

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # no-referrer would make a form POST's Origin "null"
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}
LOCAL_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def _hmac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def host_name(host_header: str) -> str:
    """``example.org:8080`` -> ``example.org``; ``[::1]:8080`` -> ``[::1]``."""
    return (urlsplit(f"//{host_header}").hostname or "").lower() if host_header else ""


class Guard:
    """Token, session cookie, CSRF token and Host checks for one server process."""

    def __init__(self, token: str, allowed_hosts: Iterable[str] = ()) -> None:
        self.token = token
        self._secret = secrets.token_bytes(32)
        self.allowed_hosts = {h.lower().strip("[]") for h in (*LOCAL_NAMES, *allowed_hosts) if h}

    @property
    def required(self) -> bool:
        return bool(self.token)

    @property
    def session_value(self) -> str:
        """The login cookie's value: an HMAC of the token (the same across restarts)."""
        return _hmac(self.token.encode("utf-8"), "archiver workbench session")

    def check_login(self, given: str) -> bool:
        return self.required and hmac.compare_digest(given.encode("utf-8"), self.token.encode("utf-8"))

    def bearer_ok(self, headers: Any) -> bool:
        value = headers.get("Authorization", "")
        if not self.required or not value.startswith("Bearer "):
            return False
        return hmac.compare_digest(value[7:].strip().encode("utf-8"), self.token.encode("utf-8"))

    def authenticated(self, cookies: Mapping[str, str], headers: Any) -> bool:
        if not self.required:
            return True
        if self.bearer_ok(headers):
            return True
        cookie = cookies.get(SESSION_COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode("utf-8"), self.session_value.encode("utf-8"))

    def host_ok(self, host_header: str) -> bool:
        """Any Host when a token guards the server; else only this machine's names."""
        return self.required or host_name(host_header).strip("[]") in self.allowed_hosts

    def csrf_token(self, cookies: Mapping[str, str]) -> str:
        return _hmac(self._secret, "csrf " + (cookies.get(SESSION_COOKIE, "") if self.required else "local"))

    def csrf_ok(self, cookies: Mapping[str, str], headers: Any, origins: str | Iterable[str]) -> bool:
        """A state-changing request: authenticated by header, or with the page's CSRF token (and, when
        the browser names its ``Origin``, one of the workbench's: as reached, or its ``public_url``)."""
        if self.bearer_ok(headers):
            return True
        allowed = {o.rstrip("/") for o in ([origins] if isinstance(origins, str) else origins)}
        origin = headers.get("Origin")
        if origin and origin.rstrip("/") not in allowed:
            return False
        given = headers.get(CSRF_HEADER, "")
        return bool(given) and hmac.compare_digest(given.encode("utf-8"), self.csrf_token(cookies).encode("utf-8"))
