"""Lets commands run while the server holds the embedded store.

A DuckDB file admits one writing process. While `serve` runs it listens on a Unix socket beside
the store (mode 0600, so only the same system user reaches it); a command that finds the store
locked sends its arguments there, the server runs it on its own engine, and the output streams
back. The running app therefore sees every change at once. A socket's path is limited to about
100 bytes: a store deeper than that gets its socket in a folder of the user's own under the
temporary directory (mode 0700), named after the store's path.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import socketserver
import stat
import tempfile
import threading
import traceback
from collections.abc import Callable
from pathlib import Path

from commands.console import Console, StreamConsole

Runner = Callable[[argparse.Namespace, Console], int]


# Linux allows 108 bytes for a socket's path, other systems less.
MAX_SOCKET_PATH = 100


def socket_path(store_path: Path) -> Path:
    beside = store_path.with_name(store_path.name + ".sock")
    if len(os.fsencode(beside)) <= MAX_SOCKET_PATH:
        return beside
    digest = hashlib.sha256(os.fsencode(store_path.resolve())).hexdigest()[:24]
    return _socket_folder() / f"{digest}.sock"


def _socket_folder() -> Path:
    """Where the sockets of stores with long paths go: a folder of this user's."""
    return Path(tempfile.gettempdir()) / f"reports-{os.getuid()}"


def _private_folder(folder: Path) -> None:
    """Make the socket's folder, or check that it is this user's alone."""
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PermissionError(
            f"{folder} must be a folder of this user's only (mode 0700) to hold the server's "
            "command socket"
        )


def _namespace_to_json(args: argparse.Namespace) -> dict:
    out = {}
    for key, value in vars(args).items():
        if callable(value):
            continue
        if isinstance(value, Path):
            value = {"__path__": str(value.resolve())}
        elif isinstance(value, list) and value and isinstance(value[0], Path):
            value = [{"__path__": str(v.resolve())} for v in value]
        out[key] = value
    return out


def _json_to_namespace(data: dict) -> argparse.Namespace:
    def decode(value):
        if isinstance(value, dict) and "__path__" in value:
            return Path(value["__path__"])
        if isinstance(value, list):
            return [decode(v) for v in value]
        return value

    return argparse.Namespace(**{k: decode(v) for k, v in data.items()})


class ControlServer:
    """The server side: a thread that runs delegated commands."""

    def __init__(self, path: Path, runners: dict[str, Runner]) -> None:
        self.path = path
        self.runners = runners
        self._server: socketserver.ThreadingUnixStreamServer | None = None

    def start(self) -> None:
        if self.path.parent == _socket_folder():
            _private_folder(self.path.parent)
        if self.path.exists():
            self.path.unlink()
        runners = self.runners

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                console = StreamConsole(self.wfile.write)
                try:
                    request = json.loads(self.rfile.readline())
                    args = _json_to_namespace(request["args"])
                    runner = runners[args.command]
                    code = runner(args, console)
                except Exception:  # the command line shows it; the server keeps serving
                    console.err("The server could not run the command:")
                    console.err(traceback.format_exc(limit=3))
                    code = 1
                self.wfile.write((json.dumps({"kind": "exit", "code": code}) + "\n").encode())

        old_umask = os.umask(0o177)
        try:
            self._server = socketserver.ThreadingUnixStreamServer(str(self.path), Handler)
        finally:
            os.umask(old_umask)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True, name="control").start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self.path.unlink(missing_ok=True)


def delegate(path: Path, args: argparse.Namespace, console: Console) -> int | None:
    """Run the command in the server that holds the store; None when no server answers."""
    if not path.exists():
        return None
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.connect(str(path))
    except OSError:
        return None
    with client, client.makefile("rb") as replies:
        client.sendall((json.dumps({"args": _namespace_to_json(args)}) + "\n").encode())
        for line in replies:
            message = json.loads(line)
            if message["kind"] == "exit":
                return int(message["code"])
            (console.out if message["kind"] == "out" else console.err)(message["text"])
    console.err("The server closed the connection before the command finished.")
    return 1
