"""A real, throw-away PostgreSQL cluster for tests: ``initdb`` + ``pg_ctl`` in a temp directory.

    server = start_postgres(Path(tempfile.mkdtemp(prefix="deploybot-pg-")))
    url = server.create_database("test_1")   # postgresql+asyncpg://deploybot@127.0.0.1:PORT/test_1
    ...
    server.stop()

The binaries come from PATH or from the folder ``pg_config --bindir`` names (Debian keeps them
in ``/usr/lib/postgresql/15/bin``). PostgreSQL refuses to run as root, so when the tests run as
root (CI does) every server command runs as the ``postgres`` user through ``runuser``; the
cluster directory is handed to that user, so it must sit where that user can reach it (a
``tempfile.mkdtemp()`` folder can be; pytest's ``tmp_path`` under ``/tmp/pytest-of-root`` is
private to root and cannot). The server listens on an ephemeral port on 127.0.0.1 and on a
socket in the cluster directory, trusts local connections, and skips fsync: it holds test
data only. Tests that need it are marked ``needs_postgres``; they skip with a stated reason
where the binaries are absent, and CI (``.ci/run``) fails if they skipped there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from tests.ports import free_port

USER = "deploybot"
SERVICE_ACCOUNT = "postgres"
START_TIMEOUT_S = 30
SKIP_REASON = "PostgreSQL is not installed: no initdb/pg_ctl on PATH or in `pg_config --bindir`"


_NEEDED = ("initdb", "pg_ctl", "postgres")


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in _NEEDED)


def _bindir() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres; None when PostgreSQL is not installed.

    PATH may hold symlinks to some of them only (``/usr/local/bin/initdb``) or Debian's
    ``pg_wrapper``; the folder a symlinked initdb resolves into, or ``pg_config --bindir``,
    holds them all."""
    initdb = shutil.which("initdb")
    if initdb is not None and _complete(Path(os.path.realpath(initdb)).parent):
        return Path(os.path.realpath(initdb)).parent
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    try:
        found = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(found) if found and _complete(Path(found)) else None


BINDIR = _bindir()
needs_postgres = pytest.mark.skipif(BINDIR is None, reason=SKIP_REASON)


def _as_service_user(argv: list[str]) -> list[str]:
    """``argv`` as it must run: through ``runuser -u postgres --`` when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", SERVICE_ACCOUNT, "--", *argv]
    return argv


def _run(argv: list[str], *, timeout: float = START_TIMEOUT_S) -> str:
    done = subprocess.run(
        _as_service_user(argv),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


@dataclass
class PostgresServer:
    """A running cluster; ``url`` names its ``postgres`` database."""

    directory: Path
    port: int
    bindir: Path

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        return f"postgresql+asyncpg://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create database ``name`` (empty, or a copy of ``template``) and return its URL.

        Callable from sync code and from inside a running event loop alike: the statement
        runs on its own loop in a worker thread."""
        if not name.isidentifier() or not (template or "t").isidentifier():
            raise ValueError(f"not a plain database name: {name!r} / {template!r}")
        copy = f' TEMPLATE "{template}"' if template else ""

        async def create() -> None:
            connection = await asyncpg.connect(
                host="127.0.0.1", port=self.port, user=USER, database="postgres"
            )
            try:
                # FILE_COPY: one checkpoint, cheap without fsync, instead of WAL-logging a copy.
                await connection.execute(f'CREATE DATABASE "{name}"{copy} STRATEGY FILE_COPY')
            finally:
                await connection.close()

        with concurrent.futures.ThreadPoolExecutor(1) as worker:
            worker.submit(asyncio.run, create()).result(timeout=START_TIMEOUT_S)
        return self.url_for(name)

    def stop(self) -> None:
        """Stop the server at once (its data is throw-away). Safe to call twice."""
        if (self.directory / "data" / "postmaster.pid").exists():
            data = str(self.directory / "data")
            _run([str(self.bindir / "pg_ctl"), "stop", "-D", data, "-m", "immediate", "-w"])

    @property
    def log(self) -> str:
        path = self.directory / "postgres.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def start_postgres(directory: Path) -> PostgresServer:
    """initdb a new cluster in ``directory`` and start it; ``stop()`` it after."""
    if BINDIR is None:
        pytest.skip(SKIP_REASON)
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(directory, user=SERVICE_ACCOUNT)
        directory.chmod(0o700)
    data = directory / "data"
    try:
        _run(
            [
                str(BINDIR / "initdb"),
                "-D",
                str(data),
                f"--username={USER}",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
                "--no-instructions",
            ]
        )
    except RuntimeError as error:
        raise RuntimeError(
            f"{error}\n(the {SERVICE_ACCOUNT} user must be able to reach {directory}; "
            "pass a folder made by tempfile.mkdtemp())"
        ) from None
    log = directory / "postgres.log"
    for attempt in range(3):  # a port picked free can be taken before the server binds it
        port = free_port()
        options = " ".join(
            [
                f"-c port={port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={directory}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
            ]
        )
        try:
            _run(
                [
                    str(BINDIR / "pg_ctl"),
                    "start",
                    "-D",
                    str(data),
                    "-l",
                    str(log),
                    "-w",
                    f"-t{START_TIMEOUT_S}",
                    "-o",
                    options,
                ],
                timeout=START_TIMEOUT_S + 5,
            )
        except RuntimeError:
            text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
            if attempt == 2 or "already in use" not in text:
                raise RuntimeError(f"PostgreSQL did not start:\n{text[-4000:]}") from None
            continue
        return PostgresServer(directory=directory, port=port, bindir=BINDIR)
    raise AssertionError("unreachable")
