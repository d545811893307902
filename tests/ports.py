"""Ports for the servers tests start as processes (serve, sandbox, PostgreSQL, Prometheus).

A port asked of the kernel (bind to 0) and released is free only until something else
takes it: the kernel hands out the same range to every outgoing connection, and other
pytest workers pick theirs the same way, so a server started a moment later found its
port taken now and then. These come from below the kernel's ephemeral range, one block
per xdist worker, each checked free and never handed out twice by this process.
"""

from __future__ import annotations

import itertools
import os
import socket

_FIRST = 20_000  # the kernel's ephemeral ports start at 32768
_BLOCK = 1_500


def _block() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    start = _FIRST + (int(worker) % 8 if worker.isdigit() else 0) * _BLOCK
    return range(start, start + _BLOCK)


_ports = itertools.cycle(_block())


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on and no other worker will pick."""
    for _ in range(_BLOCK):
        port = next(_ports)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_block()}")
