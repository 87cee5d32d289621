"""`python app.py serve` in a child process on a loopback port, and the wait until it answers."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from typing import IO

from config import PROJECT_DIR


class ServerError(RuntimeError):
    """The served app stopped at start or did not answer in time."""


def free_port() -> int:
    """A loopback port free at the time of asking."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(port: int, path: str = "/login") -> bool:
    """Whether an HTTP server on the port answers a GET of `path` (with any status)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path)
        connection.getresponse().read()
        return True
    except OSError:
        return False
    finally:
        connection.close()


class ServedApp:
    """The app served the way production runs it (waitress with threads), until stop().

    `env` is the whole environment of the server (DATA_DIR, DATABASE_URL, ...); its output
    goes to `output` (a file, subprocess.DEVNULL) or, by default, to a pipe that stop() reads.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        port: int | None = None,
        threads: int | None = None,
        output: IO | int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [sys.executable, "app.py", "serve"]
        self.command += ["--port", str(self.port)]
        if threads:
            self.command += ["--threads", str(threads)]
        self._output: str | None = None
        self.process = subprocess.Popen(
            self.command,
            cwd=PROJECT_DIR,
            env=dict(env),
            stdout=subprocess.PIPE if output is None else output,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def wait_ready(
        self, timeout: float = 60.0, ready: Callable[[], bool] | None = None
    ) -> ServedApp:
        """Wait until the server answers HTTP (and `ready()` holds, when given)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"The server stopped at start. {self.stop()}")
            if answers(self.port) and (ready is None or ready()):
                return self
            time.sleep(0.2)
        raise ServerError(f"The server did not answer within {timeout:.0f} s. {self.stop()}")

    def stop(self) -> str:
        """Stop the server; return what it printed when that went to a pipe."""
        if self._output is None:
            if self.process.poll() is None:
                self.process.terminate()
            try:
                printed, _ = self.process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                printed, _ = self.process.communicate()
            self._output = printed or ""
        return self._output
