"""A TCP proxy in front of the loopback server that can stop forwarding: a dead network path.

While ``frozen`` no byte crosses in either direction, so pongs stop too (a Wi-Fi that vanished,
a NAT that forgot the connection); the sockets stay open, as they do on a real black hole::

    with RealtimeServer() as server, FreezingProxy(server.port) as proxy:
        ...  # connect to proxy.url
        proxy.frozen = True
"""

from __future__ import annotations

import contextlib
import socket
import threading


class FreezingProxy:
    """Forwards 127.0.0.1:``port`` to the server's port until ``frozen`` is set."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.frozen = False
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}/v1/realtime?intent=transcription"
        self._sockets: list[socket.socket] = []
        self._stopped = False
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    def __enter__(self) -> FreezingProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Close the listener and every forwarded connection."""
        self._stopped = True
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pump, args=(source, sink), name="proxy-pump", daemon=True
                ).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if self._stopped:
                    return
                if not self.frozen:  # a black hole loses what it is given
                    sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
