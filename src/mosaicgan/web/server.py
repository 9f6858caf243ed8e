"""Run the app with uvicorn on a socket bound here (so port 0 works and the printed address is
the real one), and delete the session folder on the way out, however the server stops."""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
import time
from dataclasses import replace

from mosaicgan.errors import UserError
from mosaicgan.web.settings import ServeSettings


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port; a wildcard address is refused (Host headers could not
    be checked against it), a busy port is a one-line error."""
    try:
        wildcard = ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        wildcard = False
    if wildcard:
        raise UserError(f"--host {host}: give the one address to serve on (this machine's address on the "
                        "network you mean), not a wildcard: requests are checked against it")
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise UserError(f"--host {host}: {err.strerror}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as err:
        sock.close()
        raise UserError(f"cannot serve on {host}:{port} ({err.strerror})") from None
    sock.listen(64)
    return sock


class Server:
    """The bound socket, the app and uvicorn. `run()` blocks (the command); `start()` runs it in
    a thread and returns once it accepts requests (tests); `stop()` ends either."""

    def __init__(self, settings: ServeSettings) -> None:
        import uvicorn

        from mosaicgan.web.app import create_app
        from mosaicgan.web.state import WebState

        settings.check()
        self.sock = bind(settings.host, settings.port)
        self.settings = replace(settings, port=self.sock.getsockname()[1])
        self.state = WebState(self.settings)
        self.app = create_app(self.settings, state=self.state)
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=5)
        self.server = uvicorn.Server(config)
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = self.settings.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.settings.port}/"

    def run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.close()

    def start(self, timeout: float = 30.0) -> Server:
        self.thread = threading.Thread(target=self.run, name="mosaicgan-serve", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(30)
        self.close()

    def close(self) -> None:
        self.state.close()
        self.sock.close()


def warning(settings: ServeSettings) -> str | None:
    """The line printed when the server is reachable from other machines."""
    if settings.loopback:
        return None
    return (f"mosaicgan serve: WARNING: serving on {settings.host}, not on this machine alone: anyone who can "
            "reach this address can upload files, run jobs and download results (there is no login)")


def announce(server: Server, *, out=sys.stdout, err=sys.stderr) -> None:
    s = server.settings
    if warning(s):
        print(warning(s), file=err)
    print(f"mosaicgan serve: open {server.url} (work folder {server.state.store.root}; "
          f"files are deleted {s.keep_minutes:g} min after their last use and on exit; Ctrl-C stops)", file=out,
          flush=True)
