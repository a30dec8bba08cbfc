"""One HTTP server on a background thread: the lifecycle the push and metrics endpoints share."""

from __future__ import annotations

import threading
from socketserver import BaseServer


class BackgroundServer:
    """Owns a started server and the thread serving it, so each endpoint only builds its server."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._server: BaseServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"the {self._what} server is not started")
        address = self._server.server_address
        return int(address[1])  # type: ignore[index]

    def check_not_started(self) -> None:
        if self._server is not None:
            raise RuntimeError(f"the {self._what} server is already started")

    def serve(self, server: BaseServer, poll_interval: float) -> None:
        self.check_not_started()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": poll_interval},
            name=f"syncbot-{self._what}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join()
        self._server = self._thread = None
