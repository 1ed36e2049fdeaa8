"""The server's listening sockets, bound before any worker starts (no TensorFlow here).

The supervisor of --workers binds them and its workers inherit them, so this module
must stay importable without the model stack.
"""

from __future__ import annotations

import socket

from serving.contracts.errors import InputError


def port_number(text: str) -> int | None:
    """`text` as a TCP port (1-65535), else None. ASCII digits only: '²' passes isdigit()."""
    text = text.strip()
    if text.isascii() and text.isdigit() and len(text) <= 5 and 0 < int(text) < 65536:
        return int(text)
    return None


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (0: a free port), with a deep backlog."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def reserve_port(host: str, port: int) -> socket.socket:
    """Hold `port` for workers that bind it with SO_REUSEPORT (gRPC): an InputError when
    another process holds it, rather than workers that silently fail to listen."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InputError(
            f"cannot listen on {host}:{port} for gRPC ({exc.strerror}): pass another "
            "--grpc-port, or 0 to turn gRPC off."
        ) from None
    return sock
