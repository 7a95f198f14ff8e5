"""Where a webhook may be sent (no server-side request forgery).

A target URL is ``http`` or ``https`` with a host, no credentials. Its host is resolved and
EVERY address it resolves to is checked: private, loopback, link-local, multicast, reserved,
unspecified and shared (CGNAT) addresses, and IPv6 addresses that carry one of them (IPv4-mapped,
6to4, Teredo), are refused unless private targets are explicitly allowed
(``LEDGER_WEBHOOK_ALLOW_PRIVATE``, for a receiver on the same machine in tests). The
delivery then connects to the address that was checked (the host is sent as ``Host`` and, for
``https``, as the TLS server name), so a second DNS answer cannot redirect it.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import InvalidEvent, LedgerError


class UrlInvalid(InvalidEvent):
    code = "WEBHOOK_URL_INVALID"
    status = 422


class UrlForbidden(LedgerError):
    code = "WEBHOOK_URL_FORBIDDEN"
    status = 422


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent
    address: str  # the checked address to connect to

    @property
    def connect_url(self) -> str:
        shown = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.scheme}://{shown}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        default = {"http": 80, "https": 443}[self.scheme]
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


def check_url(url: str) -> tuple[str, str, int, str]:
    """``(scheme, host, port, path)`` of a well-formed target URL, else ``UrlInvalid``."""
    if not url.isascii() or not url.isprintable() or " " in url:  # urlsplit drops tabs and line breaks
        raise UrlInvalid("a webhook URL is printable ASCII without spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UrlInvalid(f"not a valid URL: {error}") from None
    if parts.scheme not in ("http", "https"):
        raise UrlInvalid("a webhook URL must be http or https")
    if not parts.hostname:
        raise UrlInvalid("a webhook URL must name a host")
    if parts.username or parts.password:
        raise UrlInvalid("a webhook URL must not carry credentials")
    if parts.fragment:
        raise UrlInvalid("a webhook URL must not have a fragment")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def forbidden_reason(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why a target address is refused (None: a public address). An IPv6 address that carries an
    IPv4 one (mapped, 6to4, Teredo's client) is judged by that one too: a 6to4 relay reaches it."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return forbidden_reason(address.ipv4_mapped)
        for kind, inner in (("6to4", address.sixtofour), ("Teredo", address.teredo and address.teredo[1])):
            reason = forbidden_reason(inner) if inner is not None else None
            if reason:
                return f"{kind} of a {reason} address"
    for flag in ("loopback", "link_local", "multicast", "unspecified", "reserved", "private"):
        if getattr(address, f"is_{flag}"):
            return flag.replace("_", "-")
    if not address.is_global:
        return "not globally routable"
    return None


def resolve(url: str, *, allow_private: bool = False) -> Target:
    """The target of ``url``, resolved and checked (``UrlInvalid``, ``UrlForbidden``)."""
    scheme, host, port, path = check_url(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UrlForbidden(f"the host {host!r} does not resolve: {error}") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise UrlForbidden(f"the host {host!r} does not resolve")
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        reason = forbidden_reason(address)
        if reason and not allow_private:
            raise UrlForbidden(f"the host {host!r} resolves to {address} ({reason}): webhooks go to public "
                               "addresses only")
    return Target(scheme, host, port, path, addresses[0].split("%", 1)[0])
