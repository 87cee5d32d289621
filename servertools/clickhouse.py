"""A throwaway ClickHouse cluster for tests and benchmarks: server nodes on loopback ports, each
from a generated config, with one cluster definition naming every node as a shard."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from xml.sax.saxutils import escape

from servertools.served import free_port

SERVER_BINARY = "/usr/sbin/clickhouse-server"
CLUSTER_NAME = "reports"


def _config(node: Path, tcp: int, http: int, interserver: int, ports: list[int]) -> str:
    shards = "".join(
        f"<shard><replica><host>127.0.0.1</host><port>{port}</port></replica></shard>"
        for port in ports
    )
    root = escape(str(node))
    return f"""<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>{root}/server.log</log>
    <errorlog>{root}/server.err.log</errorlog>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>{tcp}</tcp_port>
  <http_port>{http}</http_port>
  <interserver_http_port>{interserver}</interserver_http_port>
  <path>{root}/data/</path>
  <tmp_path>{root}/tmp/</tmp_path>
  <user_files_path>{root}/user_files/</user_files_path>
  <users_config>{root}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>50</max_concurrent_queries>
  <remote_servers><{CLUSTER_NAME}>{shards}</{CLUSTER_NAME}></remote_servers>
</yandex>
"""


_USERS = """<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default></default></quotas>
</yandex>
"""


class ClickHouseCluster:
    """`nodes` clickhouse-server processes on loopback, one shard each, started as the
    `clickhouse` system user when run as root (the Debian package makes it), and removed on
    stop. `url` names the store on it: clickhouse://127.0.0.1:PORT/DB?cluster=reports.

    With `root` (a benchmark's store) the nodes keep their data there, on `ports` given or
    free ones remembered in ROOT/ports, and a stop leaves it for the next start.
    """

    def __init__(self, nodes: int = 2, root: Path | None = None) -> None:
        if not Path(SERVER_BINARY).exists():
            raise RuntimeError(
                "ClickHouse is not installed: run `bash scripts/system-deps.sh test`"
            )
        self.keep = root is not None
        if root is None:
            self.root = Path(tempfile.mkdtemp(prefix="reports-ch-"))
            self.ports = [free_port() for _ in range(nodes)]
        else:
            self.root = Path(root).resolve()
            self.root.mkdir(parents=True, exist_ok=True)
            kept = self.root / "ports"
            if kept.exists():
                self.ports = [int(p) for p in kept.read_text().split()]
            else:
                self.ports = [free_port() for _ in range(nodes)]
                kept.write_text(" ".join(str(p) for p in self.ports) + "\n")
        self._processes: list[subprocess.Popen] = []
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            self._as_user = ["runuser", "-u", "clickhouse", "--"]

    def start(self, timeout: float = 60) -> None:
        for index, port in enumerate(self.ports):
            node = self.root / f"node{index + 1}"
            node.mkdir(exist_ok=True)
            (node / "users.xml").write_text(_USERS)
            (node / "config.xml").write_text(
                _config(node, port, free_port(), free_port(), self.ports)
            )
            if self._as_user:
                for path in (self.root, node):
                    shutil.chown(path, "clickhouse", "clickhouse")
                for path in node.iterdir():
                    if not path.is_dir() or not self.keep:
                        shutil.chown(path, "clickhouse", "clickhouse")
            self._processes.append(
                subprocess.Popen(
                    [*self._as_user, SERVER_BINARY, f"--config-file={node / 'config.xml'}"],
                    cwd=node,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    # Its own process group: a throwaway node is stopped with its runuser.
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + timeout
        for index, port in enumerate(self.ports):
            while not _answers(port):
                if self._processes[index].poll() is not None or time.monotonic() > deadline:
                    log = self.root / f"node{index + 1}" / "server.err.log"
                    tail = log.read_text()[-2000:] if log.exists() else "(no log)"
                    self.stop()
                    raise RuntimeError(f"clickhouse-server on port {port} did not start:\n{tail}")
                time.sleep(0.2)

    def url(self, database: str = "reports") -> str:
        return f"clickhouse://127.0.0.1:{self.ports[0]}/{database}?cluster={CLUSTER_NAME}"

    def stop(self) -> None:
        """A kept store's nodes shut down cleanly; a throwaway cluster's are killed at once
        (its data is removed anyway; a clean shutdown took 2-10 s a cluster in the tests)."""
        try:
            for process in self._processes:
                if self.keep:
                    process.terminate()
                else:
                    _kill_group(process)
            for process in self._processes:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        finally:
            self._processes = []
            if not self.keep:
                shutil.rmtree(self.root, ignore_errors=True)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


if __name__ == "__main__":  # python -m servertools.clickhouse: a cluster until Ctrl-C
    cluster = ClickHouseCluster()
    cluster.start()
    print(cluster.url(), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        cluster.stop()
