"""The admin API as uvicorn serves it, on a free port, for the tests to call over HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from pgarchitect.service.app import server_config
from pgarchitect.settings import Config


@contextmanager
def serving(config: Config) -> Iterator[str]:
    """The admin API of ``config`` on a free port of 127.0.0.1; yields its base URL."""
    server = uvicorn.Server(server_config(config, "127.0.0.1", 0))
    server.config.log_level = "warning"
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
