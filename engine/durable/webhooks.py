"""Webhooks: POST the finished run to its `webhook` URL, retried with backoff by procrastinate.

A target that is down never crashes anything: the job fails, procrastinate retries it with exponential
backoff, and after the last attempt the failure stays recorded in `webhook_deliveries`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg
import httpx

import sql
from engine.core import codec
from engine.core.api import CompiledGraph
from engine.durable import values

Q = sql.queries("webhooks.sql")


class WebhookFailed(Exception):
    """The target did not accept the webhook; procrastinate will retry."""


async def deliver_webhook(pool: asyncpg.Pool, run_id: uuid.UUID, *, graphs: Mapping[str, CompiledGraph],
                          timeout: float = 30.0) -> None:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(Q["webhook_run"], run_id)
        if row is None or row["delivered_at"] is not None:
            return
        output = await values.run_output(conn, graphs, row) or {}
        body: dict[str, Any] = {
            "run_id": str(row["run_id"]),
            "thread_id": str(row["thread_id"]),
            "assistant_id": str(row["assistant_id"]),
            "status": row["status"],
            "metadata": row["metadata"],
            "kwargs": row["kwargs"],
            "multitask_strategy": row["multitask_strategy"],
            "created_at": row["created_at"].isoformat(),
            "updated_at": row["updated_at"].isoformat(),
            "run_started_at": row["created_at"].isoformat(),
            "run_ended_at": row["ended_at"].isoformat() if row["ended_at"] else None,
            "values": output.get("values"),
        }
        if row["error"]:
            body["error"] = row["error"]
        try:
            async with httpx.AsyncClient(timeout=timeout) as client:
                resp = await client.post(
                    row["url"], content=codec.wire_dumps(body), headers={"content-type": "application/json"}
                )
            ok = resp.status_code < 300
            err = None if ok else f"HTTP {resp.status_code}"
        except httpx.HTTPError as exc:
            ok, err = False, f"{type(exc).__name__}: {exc}"
        if ok:
            await conn.execute(Q["webhook_delivered"], run_id)
            return
        await conn.execute(Q["webhook_failed"], run_id, err)
    raise WebhookFailed(f"webhook for run {run_id} failed: {err}")


__all__ = ["WebhookFailed", "deliver_webhook"]
