"""A throwaway PostgreSQL server for tests, from the Debian ``postgresql`` package's binaries.

One server per test session (initdb + start take a few seconds), a fresh database per test. The
server runs as a non-root user (PostgreSQL refuses root): the current user, or ``postgres`` when
the tests run as root. Without the binaries (``apt-get install -y postgresql``) the PostgreSQL
cases are skipped with that reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

INSTALL_HINT = "install the Debian package `postgresql` (apt-get install -y postgresql)"


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    start_seconds: float

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def admin_connect(self):
        import psycopg

        return psycopg.connect(host=self.host, port=self.port, user=self.user, dbname="postgres",
                               autocommit=True, connect_timeout=5)


def _bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin with initdb and pg_ctl (or both on PATH)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                        if Path(p).parent.name.isdigit() else 0, reverse=True)
    for d in candidates:
        if os.access(Path(d, "initdb"), os.X_OK) and os.access(Path(d, "pg_ctl"), os.X_OK):
            return Path(d)
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl and Path(initdb).parent == Path(pg_ctl).parent:
        return Path(initdb).parent
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as(account: pwd.struct_passwd | None, args: list[str]) -> subprocess.CompletedProcess:
    """Run a server command, dropping root to ``account`` (PostgreSQL will not run as root)."""
    kwargs = {}
    if account is not None:
        kwargs = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd="/", timeout=60, **kwargs)


@pytest.fixture(scope="session")
def postgres_server():
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip(f"PostgreSQL server binaries (initdb, pg_ctl) not found; {INSTALL_HINT}")
    account = None
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip(
                f"running as root and there is no `postgres` user to run the server as; {INSTALL_HINT}"
            )
    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="placement-search-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if account is not None:
        os.chown(root, account.pw_uid, account.pw_gid)
        os.chown(sock, account.pw_uid, account.pw_gid)
    user = "placement_test"
    init = _run_as(account, [str(bin_dir / "initdb"), "-D", str(data), "-U", user, "--auth=trust",
                             "--encoding=UTF8", "--no-locale", "--no-sync", "--no-instructions"])
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"initdb failed: {init.stderr.strip() or init.stdout.strip()}")
    port = free_port()
    options = (f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off "
               "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50")
    start = _run_as(account, [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l",
                              str(root / "server.log"), "-w", "-t", "30", "start"])
    if start.returncode != 0:
        log = (root / "server.log").read_text(errors="replace") if (root / "server.log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"pg_ctl start failed: {start.stderr.strip()} {log[-2000:]}")
    server = PostgresServer("127.0.0.1", port, user, time.perf_counter() - started)
    try:
        yield server
    finally:
        _run_as(account, [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh, empty database on the session's server; dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    with postgres_server.admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_server.url(name)
    finally:
        with postgres_server.admin_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
