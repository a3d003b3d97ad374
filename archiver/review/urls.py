"""Where the workbench and its replay are reached: for the server, the reports and notifications.

The replay is another origin than the workbench (another port, as webrecorder's
tools do), so an archived page's script can neither read the workbench nor post
to it. Pure: values in, strings out.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

from ..config import ServeConfig

COLLECTION = "archive"  # pywb's collection name in replay URLs: <replay base>archive/<timestamp>/<url>


def replay_port(serve: ServeConfig, port: int | None = None) -> int:
    """The replay server's port: ``[serve] replay_port``, else the workbench's port + 1."""
    return serve.replay_port or (port if port is not None else serve.port) + 1


def _host_for_url(host: str) -> str:
    if host in ("", "0.0.0.0", "::"):  # listening everywhere: reached through loopback from here
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def workbench_url(serve: ServeConfig, host: str | None = None, port: int | None = None) -> str:
    """The workbench's base URL (ends in ``/``): ``[serve] public_url``, else where it listens."""
    if serve.public_url:
        return serve.public_url.rstrip("/") + "/"
    return f"http://{_host_for_url(host or serve.host)}:{port or serve.port}/"


def replay_url(serve: ServeConfig, host: str | None = None, port: int | None = None) -> str:
    """The replay server's base URL (ends in ``/``): ``[serve] replay_url``, else ``public_url``'s
    scheme and host at the replay port, else where it listens."""
    if serve.replay_url:
        return serve.replay_url.rstrip("/") + "/"
    rport = replay_port(serve, port)
    if serve.public_url:
        parts = urlsplit(serve.public_url)
        hostname = parts.hostname or "127.0.0.1"
        netloc = f"[{hostname}]" if ":" in hostname else hostname
        return urlunsplit((parts.scheme, f"{netloc}:{rport}", "/", "", ""))
    return f"http://{_host_for_url(host or serve.host)}:{rport}/"


def replay_base(serve: ServeConfig) -> str:
    """The prefix of replay URLs in reports: ``<replay url>archive/``."""
    return f"{replay_url(serve)}{COLLECTION}/"


def is_loopback(host: str) -> bool:
    """``127.0.0.1``, ``::1``, ``localhost``: only this machine can connect."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
