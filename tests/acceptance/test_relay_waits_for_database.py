"""`duragraph relay` started while PostgreSQL is away waits for it, like a worker (found by the chaos
suite, issue 10: a relay restarted during a PostgreSQL restart exited with "the database system is not
yet accepting connections"). The database's port answers only later, through a forwarder that starts
listening after the relay said it is retrying; the relay then takes the lock and becomes active."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from duragraph.services import free_port
from tests.support import eventually

pytestmark = pytest.mark.acceptance


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


def _forwarder(target_host: str, target_port: int) -> object:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(target_host, target_port)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    return handle


def _start_relay(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "duragraph.cli", "-v", "relay"], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


@pytest.mark.timeout(120)
async def test_relay_started_while_the_database_is_away_waits_for_it(database_url: str, nats_url: str,
                                                                      nats_prefix: str, tmp_path: Path) -> None:
    real = urlsplit(database_url)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": real._replace(netloc=real.netloc.replace(f":{real.port}", f":{port}"))
           .geturl(), "NATS_URL": nats_url, "DURAGRAPH_NATS_STREAM": nats_prefix.upper(),
           "DURAGRAPH_SUBJECT_PREFIX": nats_prefix, "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "relay.log"
    proc = _start_relay(env, log)
    server = None
    try:
        async def retrying() -> bool:
            assert proc.poll() is None, log.read_text()
            return "Postgres session ended" in log.read_text()

        await eventually(retrying, within=60, what="the relay retrying the database")
        server = await asyncio.start_server(_forwarder(real.hostname or "127.0.0.1", real.port or 5432),  # type: ignore[arg-type]
                                            "127.0.0.1", port)

        async def active() -> bool:
            assert proc.poll() is None, log.read_text()
            return "relay: active" in log.read_text()

        await eventually(active, within=60, what="the relay active once the database answers")
    finally:
        proc.terminate()  # its database connections pass through this loop: waited for off the loop
        await asyncio.to_thread(proc.wait, 15)
        if server is not None:
            server.close()
            await server.wait_closed()
