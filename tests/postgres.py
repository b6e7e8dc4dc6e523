"""The tests' own PostgreSQL server: a throw-away cluster on a Unix socket in a temporary folder.

Debian's `postgresql` package (installed by `make test`) provides the
binaries in /usr/lib/postgresql/N/bin. The cluster listens on no TCP port,
so test sessions running side by side never collide, and runs with fsync off
(its data is thrown away). PostgreSQL refuses to run as root: under root the
server runs as the package's `postgres` user.

Each test asks for a database of its own (`fresh_database`), so tests never
see each other's rows.

`python -m tests.postgres start|stop FOLDER` runs the same kind of server
for development (`make postgres`: several daemons on one database, see the
README), kept in FOLDER between runs, with a database `intracast`.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SUPERUSER = "intracast"
START_TIMEOUT_S = 60


class PostgresMissing(RuntimeError):
    pass


def binaries() -> Path:
    """The folder holding initdb and pg_ctl: on the PATH, else Debian's newest."""
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if not versions:
        raise PostgresMissing(
            "PostgreSQL is not installed: `make test` installs Debian's postgresql package "
            "(or: apt-get install postgresql)"
        )
    return versions[-1].parent


class PostgresServer:
    def __init__(self, folder: Path, bin_dir: Path):
        self.folder = folder
        self.data = folder / "data"
        self._bin = bin_dir
        self._counter = itertools.count(1)
        self._user = _server_user()

    @property
    def socket_dir(self) -> Path:
        return self.folder

    def url(self, database: str) -> str:
        """A `storage.url` for `database`, over the socket."""
        return f"postgresql://{SUPERUSER}@/{database}?host={self.socket_dir}"

    def start(self) -> None:
        if self._user is not None:
            account = pwd.getpwnam(self._user)
            os.chown(self.folder, account.pw_uid, account.pw_gid)
        if not (self.data / "PG_VERSION").exists():
            self._init()
        options = f"-c listen_addresses='' -k {self.socket_dir} -c fsync=off -c synchronous_commit=off " \
                  "-c full_page_writes=off -c max_connections=300"
        self._run("pg_ctl", "-D", self.data, "-o", options, "-l", self.folder / "server.log",
                  "-w", "-t", str(START_TIMEOUT_S), "start")

    def _init(self) -> None:
        self._run("initdb", "-D", self.data, "-U", SUPERUSER, "--auth=trust", "--no-sync",
                  "--encoding=UTF8", "--locale=C")

    def running(self) -> bool:
        """`pg_ctl status` says so (a postmaster.pid left by a crash does not count)."""
        return self._run("pg_ctl", "-D", self.data, "status", check=False).returncode == 0

    def stop(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop", check=False)

    def fresh_database(self) -> str:
        """A new, empty database's URL."""
        name = f"test_{os.getpid()}_{next(self._counter)}"
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def psql(self, sql: str, database: str = "postgres") -> str:
        return self._run("psql", "-h", self.socket_dir, "-U", SUPERUSER, "-d", database,
                         "-v", "ON_ERROR_STOP=1", "-Atqc", sql, binary=shutil.which("psql")).stdout

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _run(self, tool: str, *args: object, check: bool = True,
             binary: str | None = None) -> subprocess.CompletedProcess[str]:
        command = [binary or str(self._bin / tool), *map(str, args)]
        if self._user is not None and tool != "psql":
            command = ["runuser", "-u", self._user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=START_TIMEOUT_S)
        if check and done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip()}\n{self.log()[-2000:]}")
        return done


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    folder = Path(tempfile.mkdtemp(prefix="intracast-pg-"))
    server = PostgresServer(folder, binaries())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _server_user() -> str | None:
    """Who runs the server: None for the current user, `postgres` under root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as e:
        raise PostgresMissing("running as root and there is no `postgres` user to run the server as") from e
    return "postgres"


def main(argv: list[str]) -> None:
    """`start FOLDER`: start (creating it the first time) and print the database's URL; `stop FOLDER`."""
    action, folder = argv
    path = Path(folder).resolve()
    path.mkdir(parents=True, exist_ok=True)
    server = PostgresServer(path, binaries())
    if action == "stop":
        server.stop()
        return
    if not server.running():
        server.start()
    if not server.psql("SELECT 1 FROM pg_database WHERE datname = 'intracast'").strip():
        server.psql("CREATE DATABASE intracast")
    print(server.url("intracast"))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
