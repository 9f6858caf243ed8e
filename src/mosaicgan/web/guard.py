"""Refuse every request that does not come from the served page itself.

A page on another site can make the browser send requests to 127.0.0.1 (forms, images,
fetch in no-cors mode), and with DNS rebinding its own host name can come to point at
127.0.0.1, which makes its requests same-origin as far as the browser knows. Three checks,
on every request, stop both:

- Host must be the served address (127.0.0.1:PORT or localhost:PORT on loopback): a rebound
  name arrives as Host: evil.example:PORT and is refused.
- Origin, when the browser sends one (every cross-origin request and every POST), must be
  that address with http://.
- Sec-Fetch-Site (sent by current browsers) must not say cross-site or same-site, except for
  the top-level navigation to the page itself (a link to it from elsewhere still opens it).

Every answer also carries a Content-Security-Policy that allows only the package's own
scripts and styles (the page works offline and loads nothing from elsewhere).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from mosaicgan.web.settings import is_loopback

CSP = ("default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


def allowed_hosts(host: str, port: int) -> frozenset[str]:
    """The Host header values of the served address: the address itself (an IPv6 one in
    brackets), and `localhost` for a loopback address; with the port (also without it on 80)."""
    bare = host.strip("[]")
    names = {f"[{bare}]" if ":" in bare else bare}
    if is_loopback(host):
        names.add("localhost")
    values = {f"{name}:{port}" for name in names} | (names if port == 80 else set())
    return frozenset(v.lower() for v in values)


def refusal(request_headers: dict[str, str], *, method: str, path: str, hosts: Iterable[str]) -> str | None:
    """Why the request is refused, or None. `request_headers`: lower-case names."""
    host = request_headers.get("host", "").lower()
    if host not in hosts:
        return f"Host {host or '(none)'!r} is not the served address"
    origin = request_headers.get("origin")
    if origin is not None and origin.lower() not in {f"http://{h}" for h in hosts}:
        return f"requests from {origin!r} are refused (only the page served here may call this server)"
    site = request_headers.get("sec-fetch-site", "").lower()
    if site in ("cross-site", "same-site"):
        navigation = request_headers.get("sec-fetch-mode", "") == "navigate" and method == "GET" and path == "/"
        if not navigation:
            return "requests from another site are refused (only the page served here may call this server)"
    return None


class GuardMiddleware:
    """ASGI middleware: the checks above, a 403 with a one-line JSON error when one fails, and
    the security headers on every answer."""

    def __init__(self, app, *, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = frozenset(h.lower() for h in hosts)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        why = refusal(headers, method=scope["method"], path=scope["path"], hosts=self.hosts)

        async def send_secured(message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        if why is None:
            await self.app(scope, receive, send_secured)
            return
        body = json.dumps({"error": f"refused: {why}"}).encode()
        await send_secured({"type": "http.response.start", "status": 403,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode())]})
        await send_secured({"type": "http.response.body", "body": body})
