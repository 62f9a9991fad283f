"""A real network fault for the tests: a TCP proxy to PostgreSQL that cuts a client off.

Armed, the proxy watches what the client sends; at the first ``COMMIT`` it either forwards
it, lets the server answer and then drops both sides without passing the answer on (the
server committed, the client never heard it), or drops both sides before the server sees
it (nothing was committed). Every later connection is forwarded normally, so the client
can reconnect and ask what happened.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import psycopg

__all__ = ["CuttingProxy", "cutting_proxy"]

#: The simple-query message ``COMMIT`` as libpq sends it: 'Q', length 11, text, NUL.
_COMMIT = b"Q\x00\x00\x00\x0bCOMMIT\x00"


class CuttingProxy:
    """Forward 127.0.0.1:``port`` to the server; cut the first armed COMMIT (see module)."""

    def __init__(self, upstream: tuple[str, int], mode: str) -> None:
        assert mode in {"after_commit", "before_commit"}
        self.upstream = upstream
        self.mode = mode
        self.armed = False
        self.cuts = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, dsn: str) -> str:
        """``dsn`` rerouted through the proxy (no TLS: the proxy reads the protocol)."""
        params = psycopg.conninfo.conninfo_to_dict(dsn)
        params.update(host="127.0.0.1", port=str(self.port), sslmode="disable")
        params["gssencmode"] = "disable"
        return psycopg.conninfo.make_conninfo(**params)

    def close(self) -> None:
        """Stop listening and close every forwarded socket."""
        self._listener.close()
        for sock in self._open:
            _close(sock)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self._open += [client, server]
            cut = threading.Event()
            threading.Thread(target=self._up, args=(client, server, cut), daemon=True).start()
            threading.Thread(target=self._down, args=(server, client, cut), daemon=True).start()

    def _up(self, client: socket.socket, server: socket.socket, cut: threading.Event) -> None:
        while chunk := _recv(client):
            if self.armed and _COMMIT in chunk:
                self.armed = False
                self.cuts += 1
                if self.mode == "before_commit":
                    _close(client)
                    _close(server)
                    return
                cut.set()
            try:
                server.sendall(chunk)
            except OSError:
                return
        _close(server)

    def _down(self, server: socket.socket, client: socket.socket, cut: threading.Event) -> None:
        while chunk := _recv(server):
            if cut.is_set():  # the server answered the COMMIT: the client never hears it
                _close(client)
                _close(server)
                return
            try:
                client.sendall(chunk)
            except OSError:
                return
        _close(client)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@contextmanager
def cutting_proxy(dsn: str, mode: str) -> Iterator[CuttingProxy]:
    """A :class:`CuttingProxy` in front of the server ``dsn`` points to."""
    with psycopg.connect(dsn) as probe:
        host, port = probe.info.host, probe.info.port
    proxy = CuttingProxy(("127.0.0.1" if host.startswith("/") else host, port), mode)
    try:
        yield proxy
    finally:
        proxy.close()
