"""``ledger serve --workers N`` on Linux: one listening socket per worker in one SO_REUSEPORT
group (``ledger_cli.listening``); the address stays refused to anyone else."""

from __future__ import annotations

import pickle
import socket
import sys

import pytest

from ledger_cli.listening import reserve

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="SO_REUSEPORT groups are Linux's")


def test_a_worker_receives_its_own_listening_socket_on_the_reserved_address():
    with reserve("127.0.0.1", 0, 16) as reserved:
        address = reserved.getsockname()
        workers = [pickle.loads(pickle.dumps(reserved)) for _ in range(2)]  # as each worker unpickles it
        try:
            for worker in workers:
                assert worker.getsockname() == address and worker.fileno() != reserved.fileno()
            with socket.create_connection(address, timeout=5):  # the group accepts connections
                pass
        finally:
            for worker in workers:
                worker.close()


def test_an_address_in_use_is_refused_even_to_another_group():
    with reserve("127.0.0.1", 0, 16) as reserved:
        worker = pickle.loads(pickle.dumps(reserved))
        try:
            with pytest.raises(OSError):
                reserve("127.0.0.1", reserved.getsockname()[1], 16)  # a second service, same port
        finally:
            worker.close()
    with socket.socket() as other:  # a program listening without SO_REUSEPORT
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        with pytest.raises(OSError):
            reserve("127.0.0.1", other.getsockname()[1], 16)
