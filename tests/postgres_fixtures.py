"""Fixtures on a real PostgreSQL and a real MLflow tracking server (issue 14).

The server is the project's own (scripts/postgres.sh start: Debian's package on 127.0.0.1,
password in ~/.pgpass); each test gets fresh databases. Where PostgreSQL cannot be installed
the tests skip, except where DELTAHALL_REQUIRE_POSTGRES=1 (CI sets it): then they fail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
import sqlalchemy

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"


@pytest.fixture(scope="session")
def postgres() -> str:
    """postgresql://deltahall@127.0.0.1:PORT: the project's PostgreSQL, started if needed."""
    out = subprocess.run(
        ["bash", str(SCRIPTS / "postgres.sh"), "start"], capture_output=True, text=True
    )
    if out.returncode != 0:
        why = f"PostgreSQL unavailable: {out.stderr.strip()[-300:]}"
        if os.environ.get("DELTAHALL_REQUIRE_POSTGRES") == "1":
            pytest.fail(why)
        pytest.skip(why)
    url = subprocess.run(
        ["bash", str(SCRIPTS / "postgres.sh"), "url", "postgres"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return url.rsplit("/", 1)[0]


def _admin(base: str) -> sqlalchemy.Engine:
    return sqlalchemy.create_engine(f"{base}/deltahall_optuna", isolation_level="AUTOCOMMIT")


@pytest.fixture
def pg_database(postgres: str) -> Iterator[Callable[[], str]]:
    """A factory of fresh, empty databases (dropped after the test): returns each one's URL."""
    made: list[str] = []
    engine = _admin(postgres)

    def make() -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
        made.append(name)
        return f"{postgres}/{name}"

    yield make
    with engine.connect() as conn:
        for name in made:
            conn.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    engine.dispose()


class TrackingServer(NamedTuple):
    url: str  # http://127.0.0.1:PORT
    artifacts: Path  # the folder its artifacts land in
    store: str  # postgresql://... of its backend store


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mlflow_server(pg_database, tmp_path: Path) -> Iterator[TrackingServer]:
    """`make server`'s script on a fresh database, on a free port."""
    port, artifacts = _free_port(), tmp_path / "server-artifacts"
    store = pg_database()
    database = store.rsplit("/", 1)[1]
    log = (tmp_path / "mlflow-server.log").open("w")
    env = {**os.environ, "DELTAHALL_MLFLOW_DB": database, "DELTAHALL_ARTIFACTS": str(artifacts)}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"  # the venv's mlflow
    server = subprocess.Popen(
        ["bash", str(SCRIPTS / "mlflow_server.sh"), str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                if reply.status == 200:
                    break
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            tail = (tmp_path / "mlflow-server.log").read_text()[-2000:]
            pytest.fail(f"mlflow server did not start: {tail}")
        time.sleep(0.5)
    try:
        yield TrackingServer(url, artifacts, store)
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
        log.close()
