"""One listening socket per worker process (Linux), so that the kernel spreads new connections
over the workers.

uvicorn's workers share one listening socket, and asyncio accepts every connection waiting when
its loop wakes: a few clients connecting at once (an integrator's pool, a courier app) can all
land in one worker while another core sits idle. With ``SO_REUSEPORT`` each worker listens on a
socket of its own in one group bound to the same address, and the kernel picks the socket by a
hash of each new connection.
"""

from __future__ import annotations

import socket
from typing import Any


class ReservedAddress(socket.socket):
    """The parent's socket: bound with ``SO_REUSEPORT`` to reserve the address, never listening
    (a listening socket in the group would be handed connections nobody accepts). Handed to a
    worker process, it arrives as that worker's own listening socket (``listening_socket``)."""

    backlog: int  # set by ``reserve``: the workers' listen() backlog

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, tuple[Any, ...]]:
        return listening_socket, (self.family, self.getsockname(), self.backlog)


def reserve(host: str, port: int, backlog: int) -> ReservedAddress:
    """Raises ``OSError`` when the address is in use, by any program: a second ledger service
    started on the same port must not join this one's group and take half its connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:  # without SO_REUSEPORT: no group joined
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]  # the port chosen for port 0
    sock = ReservedAddress(family, socket.SOCK_STREAM)
    _share_address(sock)
    sock.bind((host, port))
    sock.backlog = backlog
    return sock


def listening_socket(family: int, address: Any, backlog: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    _share_address(sock)
    sock.bind(address)
    sock.listen(backlog)
    return sock


def _share_address(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
