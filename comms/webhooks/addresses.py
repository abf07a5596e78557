"""Where a webhook may be sent: public addresses only, checked when registered and when sent.

A producer must not turn the dispatcher into a probe of the fund's own network (SSRF): a URL whose
host resolves to a loopback, private, link-local, reserved or multicast address is refused, and a
message goes to the very address that was checked, so a DNS answer that changes in between
(rebinding) cannot redirect it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit


class ForbiddenTarget(ValueError):
    """The URL's host is not a public address (or does not resolve): never sent to."""


@dataclass(frozen=True)
class Target:
    """A URL pinned to one checked address, with what TLS and HTTP must still be told."""

    url: str  # the host replaced by the checked IP address
    host_header: str
    sni_hostname: str | None  # for https: the certificate must match the name, not the IP


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_global and not ip.is_multicast


async def pin(url: str, *, allow_private: bool) -> Target:
    """Resolves the URL's host, refuses non-public addresses, and pins the first one."""
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise ForbiddenTarget("the URL must be http(s) with a host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise ForbiddenTarget("the host does not resolve") from None
    addresses = [str(info[4][0]) for info in found]
    if not addresses:
        raise ForbiddenTarget("the host does not resolve")
    if not allow_private and not all(is_public(a) for a in addresses):
        raise ForbiddenTarget("the host resolves to an address that is not public")
    return Target(
        url=_with_host(parts, addresses[0], port),
        host_header=parts.netloc.rpartition("@")[2],
        sni_hostname=host if parts.scheme == "https" else None,
    )


def _with_host(parts: SplitResult, address: str, port: int) -> str:
    literal = f"[{address}]" if ":" in address else address
    return parts._replace(netloc=f"{literal}:{port}").geturl()
