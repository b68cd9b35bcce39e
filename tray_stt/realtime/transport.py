"""The WebSocket connection, on websocket-client: the only module that imports ``websocket``.

Every library exception is translated here into ``TransportClosed`` (the connection ended, maybe
retryable) or a ``TraySttError`` (the endpoint refused us for a reason retrying cannot fix).
"""

from __future__ import annotations

import contextlib
import socket
import time
from dataclasses import dataclass
from typing import Protocol

from tray_stt.errors import AuthenticationError, BillingError, ConfigError
from tray_stt.realtime.events import Outage
from tray_stt.realtime.text import clean_text

# The largest message the server may send (docs/protocol.md, "Limits"): its events are a few KB,
# a long transcript with logprobs some tens of KB. A bigger one is a broken or hostile server; it is
# refused from its frame header, before any of it is read into memory.
MAX_MESSAGE_BYTES = 1 << 20
CLOSE_MESSAGE_TOO_BIG = 1009  # the WebSocket close code (docs/protocol.md, "Server text is data")


@dataclass(frozen=True)
class TransportClosed(Exception):
    """The connection ended; ``code`` is the WebSocket close code when the server sent one.

    ``outage`` says what kind of trouble it was, which decides the backoff (docs/protocol.md,
    "Session lifetime and reconnection").
    """

    code: int | None
    reason: str
    outage: Outage = Outage.NETWORK

    def __str__(self) -> str:
        return f"connection closed ({self.code}): {self.reason}" if self.code else self.reason


class MessageTooLarge(Exception):
    """The server announced a message above MAX_MESSAGE_BYTES."""

    def __init__(self, size: int) -> None:
        super().__init__(
            f"the server sent a message of {size:,} bytes, over the limit of "
            f"{MAX_MESSAGE_BYTES:,}: closed the connection as a protocol error"
        )


class _MessageBound:
    """Replaces a websocket-client frame buffer's ``recv_length``: checks each data message's
    size (its fragments added up) from the frame headers, before the payload is read."""

    def __init__(self, frames: object, limit: int) -> None:
        self._frames = frames
        self._recv_length = frames.recv_length  # type: ignore[attr-defined]
        self._limit = limit
        self._message = 0  # bytes of the fragmented message so far

    def __call__(self) -> None:
        self._recv_length()
        fin, opcode = self._frames.header[0], self._frames.header[4]  # type: ignore[attr-defined]
        if opcode >= 0x8:  # control frames are at most 125 bytes by the protocol
            return
        total = self._frames.length + (self._message if opcode == 0x0 else 0)  # type: ignore[attr-defined]
        if total > self._limit:
            raise MessageTooLarge(total)
        self._message = 0 if fin else total


class Transport(Protocol):
    """One open connection carrying JSON text frames."""

    def send(self, text: str) -> None:
        """Send one text frame; raises TransportClosed if the connection is gone."""

    def receive(self) -> str:
        """Block for the next text frame; raises TransportClosed when the connection ends.

        ``""`` means a pong arrived: the peer is alive, nothing to read."""

    def close(self) -> None:
        """Close cleanly; called by the thread that receives."""

    def abort(self) -> None:
        """End the connection from any thread, unblocking ``receive``."""


class Connect(Protocol):
    """Opens a connection; raises TransportClosed (retryable) or TraySttError (not)."""

    def __call__(self, url: str, headers: dict[str, str], timeout: float) -> Transport: ...


@dataclass(frozen=True)
class Keepalive:
    """Our pings (docs/protocol.md, "Session lifetime and reconnection"): a ping after
    ``interval_s`` without a frame; the connection is dead after ``timeout_s`` without any frame,
    pongs included. Sends that make no progress for ``timeout_s`` fail too, so a frozen peer never
    blocks a writer for good."""

    interval_s: float = 5.0
    timeout_s: float = 15.0


class WebSocketTransport:
    """A websocket-client connection. Pings are answered inside ``receive``, and sent there
    when the server has been quiet (``Keepalive``)."""

    def __init__(self, ws: object, keepalive: Keepalive | None = None) -> None:
        import websocket

        assert isinstance(ws, websocket.WebSocket)
        self._ws = ws
        self._websocket = websocket
        bound = _MessageBound(ws.frame_buffer, MAX_MESSAGE_BYTES)
        ws.frame_buffer.recv_length = bound  # type: ignore[method-assign]
        self._keepalive = keepalive or Keepalive()
        self._heard = time.monotonic()
        # A blocked recv returns every interval, to ping; a blocked send fails after that long.
        ws.settimeout(min(self._keepalive.interval_s, self._keepalive.timeout_s))

    def send(self, text: str) -> None:
        """Send one text frame."""
        try:
            self._ws.send(text)
        except (OSError, self._websocket.WebSocketException) as exc:
            raise TransportClosed(None, f"sending failed: {exc or type(exc).__name__}") from exc

    def receive(self) -> str:
        """The next text frame (binary frames are decoded as UTF-8); ``""`` for a pong."""
        abnf = self._websocket.ABNF
        while True:
            try:
                opcode, frame = self._ws.recv_data_frame(control_frame=True)
            except self._websocket.WebSocketTimeoutException:
                self._quiet()
                continue
            except MessageTooLarge as exc:
                with contextlib.suppress(OSError, self._websocket.WebSocketException):
                    self._ws.send_close(CLOSE_MESSAGE_TOO_BIG, b"message too big")
                self.abort()
                raise TransportClosed(CLOSE_MESSAGE_TOO_BIG, str(exc)) from exc
            except (OSError, self._websocket.WebSocketException) as exc:
                raise TransportClosed(None, str(exc) or type(exc).__name__) from exc
            self._heard = time.monotonic()
            if opcode == abnf.OPCODE_PONG:
                return ""
            if opcode != abnf.OPCODE_PING:
                break
        data = frame.data if frame is not None else b""
        if opcode == abnf.OPCODE_CLOSE:
            code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
            # The library answered the close frame; the socket is closed here, not left to the
            # garbage collector (the server would wait for it to go, a leaked fd each time).
            with contextlib.suppress(OSError, self._websocket.WebSocketException):
                self._ws.shutdown()  # type: ignore[no-untyped-call]
            raise TransportClosed(code, clean_text(data[2:].decode("utf-8", "replace")))
        return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)

    def _quiet(self) -> None:
        """Nothing arrived for a ping interval: ping, or give the connection up."""
        quiet = time.monotonic() - self._heard
        if quiet >= self._keepalive.timeout_s:
            raise TransportClosed(
                None, f"no answer from the server for {quiet:.0f} s", Outage.STALLED
            )
        try:
            self._ws.ping()
        except (OSError, self._websocket.WebSocketException) as exc:
            raise TransportClosed(None, f"sending a ping failed: {exc}") from exc

    def close(self) -> None:
        """Send a close frame and wait briefly for the server's."""
        try:
            self._ws.close(timeout=2)
        except (OSError, self._websocket.WebSocketException):
            self.abort()

    def abort(self) -> None:
        """Send a close frame if possible, then shut the socket so a blocked receive returns."""
        with contextlib.suppress(OSError, self._websocket.WebSocketException):
            self._ws.send_close()
        sock = self._ws.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class WebSocketConnect:
    """``Connect`` on websocket-client with the session's keepalive."""

    def __init__(self, keepalive: Keepalive) -> None:
        self.keepalive = keepalive

    def __call__(self, url: str, headers: dict[str, str], timeout: float) -> Transport:
        """Open one connection."""
        return websocket_connect(url, headers, timeout, keepalive=self.keepalive)


def websocket_connect(
    url: str, headers: dict[str, str], timeout: float, *, keepalive: Keepalive | None = None
) -> Transport:
    """Open a WebSocket with websocket-client, translating every failure.

    Name resolution, refusal, unreachable networks, resets, timeouts and HTTP 5xx/429 are all
    retryable (``TransportClosed``): a laptop off Wi-Fi cannot resolve any name.
    """
    import ssl  # with websocket, when a connection is made: the idle tray loads neither

    import websocket

    try:
        ws = websocket.create_connection(
            url,
            header=[f"{name}: {value}" for name, value in headers.items()],
            timeout=timeout,
            enable_multithread=True,  # one thread sends while another receives
            suppress_origin=True,
            # receive() decodes with "replace"; the library's own check is pure Python and cost
            # more CPU than everything else the session does per received frame.
            skip_utf8_validation=True,
        )
    except websocket.WebSocketBadStatusException as exc:
        raise _refusal(url, exc.status_code, _body(exc)) from exc
    except websocket.WebSocketAddressException as exc:
        raise TransportClosed(None, f"cannot resolve the host of {url}") from exc
    except ssl.SSLCertVerificationError as exc:
        # Also what a Wi-Fi sign-in page does to every TLS connection: a network state that
        # retrying fixes, and for a wrong endpoint the give-up message says what was seen.
        raise TransportClosed(
            None, f"the TLS certificate of {url} could not be verified: {exc.reason}"
        ) from exc
    except (OSError, websocket.WebSocketException) as exc:
        raise TransportClosed(None, f"cannot connect to {url}: {exc}") from exc
    return WebSocketTransport(ws, keepalive)


def _body(exc: Exception) -> str:
    body = getattr(exc, "resp_body", None)
    if isinstance(body, bytes):
        return clean_text(body.decode("utf-8", "replace")[:300])
    return clean_text(str(body or "")[:300])


def _refusal(url: str, status: int, body: str) -> Exception:
    """Translate an HTTP refusal of the upgrade (Azure refuses some requests there:
    docs/protocol.md, "Refusals before the WebSocket opens")."""
    if status in (401, 403):
        return AuthenticationError.rejected(url, f"HTTP {status}")
    if status == 429 and "quota" in body:
        return BillingError.no_credit("HTTP 429, insufficient_quota")
    if status in (429, 500, 502, 503, 504):
        return TransportClosed(None, f"the server answered HTTP {status}", Outage.SERVER)
    detail = f": {body}" if body else ""
    return ConfigError(f"{url} refused the realtime connection (HTTP {status}){detail}.")
