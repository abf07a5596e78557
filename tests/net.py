"""Loopback ports for the servers tests start, and one HTTP client to talk to them."""

from __future__ import annotations

import socket

import httpx

from channels.base import tls_context

# `httpx.get` and friends build a client, and with it a TLS context (60 ms of CPU), on every call.
# This one is built once; it keeps no connection, so each call is a fresh one as theirs were.
# It keeps cookies, and loopback cookies ignore the port: a test that signs in uses its own client.
HTTP = httpx.Client(verify=tls_context(), limits=httpx.Limits(max_keepalive_connections=0))


def free_port() -> int:
    """A port nothing listens on now (the OS's pick); the server started next binds it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
