"""A throwaway PostgreSQL server for tests and benchmarks: ``initdb`` into a temporary directory.

:class:`TemporaryServer` runs the server binaries of the machine
(``/usr/lib/postgresql/<version>/bin`` or ``$RIVERS_PG_BIN``), listening on
127.0.0.1 on a free port with password (SCRAM) authentication for TCP
clients. ``initdb`` and ``postgres`` refuse to run as root: as root the
server runs as the ``postgres`` system user (created by the Debian
packages; created here when missing) and the data directory belongs to it.

    with TemporaryServer() as server:
        storage = rivers.Storage.connect(server.url("rivers"))

Nothing here is needed in production; it exists so tests and
``bench/storage_postgres.py`` use a real server.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from typing import Final

__all__ = ["ServerNotAvailable", "TemporaryServer", "find_server_binaries"]

#: Superuser of the temporary cluster and its password (a throwaway test server only).
SUPERUSER: Final = "rivers_admin"
_SERVER_USER: Final = "postgres"

#: Settings for a throwaway server: no fsync (tests never lose power; a crashed server loses no commit).
FAST_SETTINGS: Final = {"fsync": "off", "full_page_writes": "off"}


class ServerNotAvailable(RuntimeError):
    """The PostgreSQL server binaries are not installed on this machine."""


def find_server_binaries() -> str:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres`` (the newest installed version)."""
    configured = os.environ.get("RIVERS_PG_BIN")
    candidates = [configured] if configured else sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda path: int(path.split("/")[-2]) if
        path.split("/")[-2].isdigit() else 0, reverse=True
    )
    for candidate in candidates:
        if candidate and os.path.exists(os.path.join(candidate, "initdb")):
            return candidate
    found = shutil.which("initdb")
    if found:
        return os.path.dirname(found)
    raise ServerNotAvailable(
        "PostgreSQL server binaries not found (looked in $RIVERS_PG_BIN and /usr/lib/postgresql/*/bin); "
        "install them, e.g. apt-get install postgresql-15"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ensure_server_user() -> pwd.struct_passwd:
    """The unprivileged user a root process runs the server as (created when missing)."""
    try:
        return pwd.getpwnam(_SERVER_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _SERVER_USER],
            check=True, capture_output=True,
        )
        return pwd.getpwnam(_SERVER_USER)


class TemporaryServer:
    """A PostgreSQL cluster in a temporary directory, on 127.0.0.1, removed by :meth:`stop`.

    ``settings`` are ``postgres -c`` settings (e.g. :data:`FAST_SETTINGS`).
    """

    def __init__(self, settings: Mapping[str, str] | None = None, *, password: str = "rivers-test") -> None:
        self.bin_dir = find_server_binaries()
        self.settings = dict(settings or {})
        self.password = password
        self.host = "127.0.0.1"
        self.port = 0
        self._root: str | None = None
        self._as_root = os.geteuid() == 0
        self._owner: pwd.struct_passwd | None = None

    # -- paths and commands -------------------------------------------------------

    @property
    def data_dir(self) -> str:
        assert self._root is not None, "server not started"
        return os.path.join(self._root, "data")

    @property
    def log_file(self) -> str:
        assert self._root is not None, "server not started"
        return os.path.join(self._root, "server.log")

    def _command(self, program: str, *arguments: str) -> list[str]:
        command = [os.path.join(self.bin_dir, program), *arguments]
        if self._as_root:
            return ["runuser", "-u", _SERVER_USER, "--", *command]
        return command

    def _run(self, program: str, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(self._command(program, *arguments), capture_output=True, text=True, cwd=self._root)
        if check and result.returncode != 0:
            raise RuntimeError(f"{program} failed ({result.returncode}): {result.stderr.strip() or result.stdout}"
                               f"\n{self._log_tail()}")
        return result

    def _log_tail(self) -> str:
        try:
            with open(self.log_file, encoding="utf-8", errors="replace") as handle:
                return "server log:\n" + "".join(handle.readlines()[-20:])
        except OSError:
            return ""

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> TemporaryServer:
        """initdb and start the server; returns ``self``."""
        self._root = tempfile.mkdtemp(prefix="rivers-pg-")
        if self._as_root:
            self._owner = _ensure_server_user()
            os.chown(self._root, self._owner.pw_uid, self._owner.pw_gid)
        os.chmod(self._root, 0o700)
        password_file = os.path.join(self._root, "pwfile")
        with open(password_file, "w", encoding="utf-8") as handle:
            handle.write(self.password + "\n")
        if self._owner is not None:
            os.chown(password_file, self._owner.pw_uid, self._owner.pw_gid)
        self._run(
            "initdb", "-D", self.data_dir, "-U", SUPERUSER, f"--pwfile={password_file}",
            "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
        )
        os.unlink(password_file)
        self.port = _free_port()
        self._start_server()
        return self

    def _server_options(self) -> str:
        options = {"listen_addresses": self.host, "port": str(self.port), "unix_socket_directories": self._root or "",
                   **self.settings}
        return " ".join(f"-c {name}={value}" for name, value in options.items())

    def _start_server(self) -> None:
        for attempt in range(5):
            result = self._run("pg_ctl", "-D", self.data_dir, "-l", self.log_file, "-w", "-t", "60",
                               "-o", self._server_options(), "start", check=False)
            if result.returncode == 0:
                return
            if "could not bind" in self._log_tail() and attempt < 4:  # the free port was taken meanwhile
                self.port = _free_port()
                continue
            raise RuntimeError(f"pg_ctl start failed: {result.stderr.strip() or result.stdout}\n{self._log_tail()}")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``mode``: ``smart``, ``fast`` or ``immediate``, a crash)."""
        if self._root is not None and os.path.exists(os.path.join(self.data_dir, "postmaster.pid")):
            self._run("pg_ctl", "-D", self.data_dir, "-m", mode, "-w", "stop", check=False)

    def restart(self, mode: str = "fast", *, down_for: float = 0.0) -> None:
        """Stop the server and start it again on the same port, ``down_for`` seconds later."""
        self.stop(mode)
        time.sleep(down_for)
        self._start_server()

    def kill(self) -> None:
        """Kill the postmaster with SIGKILL (the children follow), as a machine crash would."""
        with open(os.path.join(self.data_dir, "postmaster.pid"), encoding="utf-8") as handle:
            os.kill(int(handle.readline()), signal.SIGKILL)

    def remove(self) -> None:
        """Stop the server and delete its directory."""
        self.stop("immediate")
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def __enter__(self) -> TemporaryServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.remove()

    # -- clients ------------------------------------------------------------------

    def url(self, database: str = "postgres", *, user: str = SUPERUSER, password: str | None = None,
            query: str = "") -> str:
        """``postgresql://user[:password]@127.0.0.1:port/database`` (the superuser's password by default)."""
        secret = self.password if password is None and user == SUPERUSER else password
        credentials = user if secret is None else f"{user}:{secret}"
        return f"postgresql://{credentials}@{self.host}:{self.port}/{database}" + (f"?{query}" if query else "")

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` as the superuser over the server's Unix socket; return psql's output."""
        result = subprocess.run(
            self._command("psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", self._root or "",
                          "-p", str(self.port), "-U", SUPERUSER, "-d", database, "-c", sql),
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout

    def create_database(self, name: str) -> str:
        """Create database ``name``; return its URL (superuser credentials)."""
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def create_role(self, name: str, password: str, *, connection_limit: int = -1,
                    databases: Sequence[str] = ()) -> None:
        """Create a login role (``connection_limit``: -1 unlimited) owning nothing, allowed into ``databases``."""
        self.psql(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}' CONNECTION LIMIT {connection_limit}")
        for database in databases:
            self.psql(f'GRANT ALL ON DATABASE "{database}" TO "{name}"')
            self.psql(f'GRANT ALL ON SCHEMA public TO "{name}"', database)
