"""``archiver serve``: the workbench and the replay in one process, on two ports (two origins).

pywb runs on gevent (its app monkeypatches the process when imported), so both
are served by gevent's WSGI server, pywb's own production server: one process,
one greenlet per request. Call :func:`run` after ``gevent.monkey.patch_all()``.
"""

from __future__ import annotations

import logging
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ..config import Config
from ..errors import ConfigError, UsageError
from ..archive.store import DB_NAME
from .security import Guard, host_name
from .urls import is_loopback, replay_url, workbench_url

log = logging.getLogger(__name__)


def check_listen(config: Config, host: str) -> None:
    """A non-loopback address needs a token (SPEC §9)."""
    if not is_loopback(host) and not config.serve.token:
        raise ConfigError(f"[serve] token: required to listen on {host} (any address but 127.0.0.1, ::1 or "
                          "localhost): set a long random token, every request will need it")


def run(config: Config, host: str, port: int, rport: int, *, ready: Callable[[str], None]) -> None:
    """Serve until SIGINT or SIGTERM; ``ready`` gets a line telling where, once both listen."""
    started = time.monotonic()
    check_listen(config, host)
    if not config.archive.database and not (config.archive.dir / DB_NAME).exists():  # PostgreSQL: SPEC §11
        raise UsageError(f"{config.archive.dir}: no archive here yet (run `archiver snapshot` or `archiver sweep`)")
    import gevent
    from gevent.pywsgi import WSGIServer
    from pywb.utils.geventserver import RequestURIWSGIHandler

    from .app import create_app
    from .replay import create_replay

    serve = config.serve
    workbench = workbench_url(serve, host, port)
    replay = replay_url(_with_replay_port(config, rport).serve, host, port)
    names = [host, host_name(serve.public_url.split("//", 1)[-1]) if serve.public_url else ""]
    guard = Guard(serve.token, [n for n in names if n])
    with tempfile.TemporaryDirectory(prefix="archiver-serve-") as temp:
        replay_app = create_replay(config.archive.dir / "warcs", Path(temp), guard, f"{workbench}login")
        app = create_app(config, guard, replay)
        access = logging.getLogger("archiver.access")
        access_log = access if access.isEnabledFor(logging.INFO) else None
        servers = [
            WSGIServer((host, port), app, log=access_log, error_log=log),
            WSGIServer((host, rport), replay_app, log=access_log, error_log=log, handler_class=RequestURIWSGIHandler),
        ]
        try:
            for server in servers:
                server.start()
        except OSError as exc:
            for server in servers:
                server.stop()
            raise UsageError(f"cannot listen on {host}:{port} and {rport}: {exc.strerror or exc}") from None
        ready(f"workbench: {workbench}\nreplay:    {replay}archive/  (another origin)\n"
              f"started in {time.monotonic() - started:.2f}s; Ctrl-C stops")
        stop = gevent.event.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            gevent.signal_handler(sig, stop.set)
        stop.wait()
        for server in servers:
            server.stop(timeout=2)


def _with_replay_port(config: Config, rport: int) -> Config:
    from dataclasses import replace

    return replace(config, serve=replace(config.serve, replay_port=rport))
