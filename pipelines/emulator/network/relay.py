"""One tunnel's traffic: TLS on memory buffers, and the relay to the plaintext upstream.

The proxy (proxy.py) terminates TLS itself: MemoryTls runs the server side of it
on memory buffers (ssl.SSLObject), so that one thread drives both directions of
a tunnel without ever blocking on a socket. Relay moves the bytes both ways and
passes a half-close on either side on (TLS close_notify <-> TCP shutdown) while
the other direction keeps flowing.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import ssl
import threading

_LOG = logging.getLogger(__name__)

CHUNK = 64 * 1024
_BUFFER_LIMIT = 1024 * 1024  # per direction; reading pauses above it (back-pressure)


class MemoryTls:
    """Server-side TLS over memory buffers: the socket I/O stays in the caller's hands."""

    def __init__(self, context: ssl.SSLContext, early_data: bytes) -> None:
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.incoming.write(early_data)
        self.object = context.wrap_bio(self.incoming, self.outgoing, server_side=True)

    @property
    def protocol(self) -> str | None:
        return self.object.selected_alpn_protocol()

    def handshake(self, client: socket.socket) -> None:
        """Complete the handshake on a blocking socket (with a timeout)."""
        while True:
            try:
                self.object.do_handshake()
                break
            except ssl.SSLWantReadError:
                client.sendall(self.outgoing.read())
                chunk = client.recv(CHUNK)
                if not chunk:
                    raise ConnectionAbortedError(
                        "the client left during the TLS handshake"
                    ) from None
                self.incoming.write(chunk)
        client.sendall(self.outgoing.read())

    def send_all(self, client: socket.socket, data: bytes) -> None:
        self.object.write(data)
        client.sendall(self.outgoing.read())


class Relay:
    """Move bytes both ways between a TLS client and a plaintext upstream until both are done."""

    def __init__(
        self,
        client: socket.socket,
        server: socket.socket,
        tls: MemoryTls,
        stopping: threading.Event,
    ) -> None:
        self.client, self.server, self.tls, self.stopping = client, server, tls, stopping
        self.to_server = bytearray()  # plaintext from the client
        self.to_client = bytearray()  # TLS records for the client
        self.client_done = False  # the client sent all it will send
        self.server_done = False
        self.server_write_closed = False
        self.client_write_closed = False

    def run(self) -> None:
        for sock in (self.client, self.server):
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._decrypt()  # records that arrived with the handshake's last flight
        with selectors.DefaultSelector() as selector:
            while not self.stopping.is_set():
                self._pass_on_half_closes()
                if self.client_done and self.server_done and not (self.to_client or self.to_server):
                    return
                client_events = self._events(
                    not self.client_done and len(self.to_server) < _BUFFER_LIMIT, self.to_client
                )
                server_events = self._events(
                    not self.server_done and len(self.to_client) < _BUFFER_LIMIT, self.to_server
                )
                if not client_events and not server_events:
                    return
                _modify(selector, self.client, client_events)
                _modify(selector, self.server, server_events)
                for key, events in selector.select():
                    if key.fileobj is self.client:
                        self._on_client(events)
                    else:
                        self._on_server(events)

    @staticmethod
    def _events(read: bool, pending: bytearray) -> int:
        return (selectors.EVENT_READ if read else 0) | (selectors.EVENT_WRITE if pending else 0)

    def _pass_on_half_closes(self) -> None:
        if self.client_done and not self.to_server and not self.server_write_closed:
            self.server_write_closed = True
            with contextlib.suppress(OSError):
                self.server.shutdown(socket.SHUT_WR)
        if self.server_done and not self.client_write_closed:
            self.client_write_closed = True
            with contextlib.suppress(ssl.SSLWantReadError):
                self.tls.object.unwrap()  # queues close_notify; the client's comes later
            self._collect_records()

    def _on_client(self, events: int) -> None:
        if events & selectors.EVENT_WRITE:
            sent = self.client.send(self.to_client)
            del self.to_client[:sent]
        if events & selectors.EVENT_READ:
            chunk = self.client.recv(CHUNK)
            if chunk:
                self.tls.incoming.write(chunk)
            else:
                self.tls.incoming.write_eof()
            self._decrypt()
            if not chunk:
                self.client_done = True

    def _on_server(self, events: int) -> None:
        if events & selectors.EVENT_WRITE:
            sent = self.server.send(self.to_server)
            del self.to_server[:sent]
        if events & selectors.EVENT_READ:
            chunk = self.server.recv(CHUNK)
            if chunk:
                self.tls.object.write(chunk)
                self._collect_records()
            else:
                self.server_done = True

    def _decrypt(self) -> None:
        try:
            while chunk := self.tls.object.read(CHUNK):
                self.to_server += chunk
            self.client_done = True  # b"" is close_notify: the client finished sending
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLZeroReturnError:  # close_notify, after ours
            self.client_done = True
        except ssl.SSLError as error:
            _LOG.debug("proxy: client TLS ended: %s", error)
            self.client_done = True
        self._collect_records()

    def _collect_records(self) -> None:
        self.to_client += self.tls.outgoing.read()


def _modify(selector: selectors.BaseSelector, sock: socket.socket, events: int) -> None:
    try:
        registered = selector.get_key(sock).events
    except KeyError:
        registered = 0
    if events == registered:
        return
    if not registered:
        selector.register(sock, events)
    elif not events:
        selector.unregister(sock)
    else:
        selector.modify(sock, events)
