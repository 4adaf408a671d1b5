"""A LangGraph checkpointer over documents the durable layer loaded from Postgres, in memory.

LangGraph's own loop (`AsyncPregelLoop`), `get_state` and `update_state` read the thread through it and
write into it; the durable layer then persists what was written (`puts`, `writes`) in its transaction.
Checkpoint documents are JSON (`to_doc` / `from_doc`), channel values stored through `codec`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)

from engine.core import codec


def to_doc(checkpoint: Checkpoint, metadata: CheckpointMetadata, parent_id: str | None, ns: str = "") -> dict[str, Any]:
    """The JSON document of a checkpoint (what the durable layer stores; `id`/`step`/`parent_id`/`source`
    are the fields it reads)."""
    meta = dict(metadata or {})
    return {
        "id": checkpoint["id"],
        "step": int(meta.get("step", -1)),  # type: ignore[call-overload]
        "parent_id": parent_id,
        "source": meta.get("source", "loop"),
        "ns": ns,
        "lg": {
            "v": checkpoint["v"],
            "ts": checkpoint["ts"],
            "channel_values": codec.encode_map(checkpoint["channel_values"]),
            "channel_versions": checkpoint["channel_versions"],
            "versions_seen": checkpoint["versions_seen"],
            "updated_channels": checkpoint.get("updated_channels"),
        },
        "metadata": codec.to_wire({k: v for k, v in meta.items() if k not in ("writes",)}),
    }


def from_doc(doc: dict[str, Any]) -> tuple[Checkpoint, CheckpointMetadata]:
    lg = doc["lg"]
    checkpoint = Checkpoint(
        v=lg["v"],
        id=doc["id"],
        ts=lg["ts"],
        channel_values=codec.decode_map(lg["channel_values"]),
        channel_versions=dict(lg["channel_versions"]),
        versions_seen={k: dict(v) for k, v in lg["versions_seen"].items()},
        updated_channels=lg.get("updated_channels"),
    )
    metadata: CheckpointMetadata = dict(doc.get("metadata") or {})  # type: ignore[assignment]
    metadata.setdefault("source", doc.get("source", "loop"))  # type: ignore[typeddict-item]
    metadata.setdefault("step", doc["step"])
    return checkpoint, metadata


PendingWrite = tuple[str, str, Any]


@dataclass
class Saved:
    doc: dict[str, Any]
    writes: list[PendingWrite] = field(default_factory=list)


class DocSaver(BaseCheckpointSaver[int]):
    """Checkpoints of one thread, by namespace and id. `latest[ns]` is what a read without a checkpoint id
    gets. Every put is recorded in `puts` / `written` for the durable layer to persist."""

    def __init__(self, thread_id: str) -> None:
        super().__init__()
        self.thread_id = thread_id
        self.saved: dict[tuple[str, str], Saved] = {}
        self.latest: dict[str, str] = {}
        self.puts: list[dict[str, Any]] = []  # new checkpoint documents, in order
        self.written: list[tuple[str, str, str, list[tuple[str, Any]]]] = []  # (ns, checkpoint id, task id, writes)

    # -- seeding ---------------------------------------------------------------------------------------
    def seed(self, doc: dict[str, Any], writes: Sequence[PendingWrite] = (), *, latest: bool = True) -> None:
        ns = doc.get("ns", "")
        self.saved[(ns, doc["id"])] = Saved(doc, list(writes))
        if latest:
            self.latest[ns] = doc["id"]

    def seed_head(self, head_id: str, ns: str = "") -> None:
        """Mark another checkpoint as the thread's latest (what LangGraph checks to see a fork)."""
        self.latest[ns] = head_id

    # -- reads -----------------------------------------------------------------------------------------
    def _config(self, ns: str, cid: str) -> RunnableConfig:
        return {"configurable": {"thread_id": self.thread_id, "checkpoint_ns": ns, "checkpoint_id": cid}}

    def _tuple(self, ns: str, cid: str) -> CheckpointTuple | None:
        saved = self.saved.get((ns, cid))
        if saved is None:
            if self.latest.get(ns) == cid:  # a head we only know the id of
                return CheckpointTuple(self._config(ns, cid), _stub(cid), {"step": -1}, None, [])  # type: ignore[typeddict-item]
            return None
        checkpoint, metadata = from_doc(saved.doc)
        parent = saved.doc.get("parent_id")
        return CheckpointTuple(
            self._config(ns, cid), checkpoint, metadata, self._config(ns, parent) if parent else None,
            list(saved.writes),
        )

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        conf = config.get("configurable") or {}
        ns = conf.get("checkpoint_ns") or ""
        cid = conf.get("checkpoint_id") or self.latest.get(ns)
        return self._tuple(ns, cid) if cid else None

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self.get_tuple(config)

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        ns = ((config or {}).get("configurable") or {}).get("checkpoint_ns") or ""
        docs = sorted((s.doc for (n, _), s in self.saved.items() if n == ns), key=lambda d: d["id"], reverse=True)
        count = 0
        for doc in docs:
            if limit is not None and count >= limit:
                return
            tup = self._tuple(ns, doc["id"])
            if tup is not None:
                count += 1
                yield tup

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        for tup in self.list(config, filter=filter, before=before, limit=limit):
            yield tup

    # -- writes ----------------------------------------------------------------------------------------
    def put(
        self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        conf = config.get("configurable") or {}
        ns = conf.get("checkpoint_ns") or ""
        parent = conf.get("checkpoint_id")
        doc = to_doc(checkpoint, metadata, parent if parent != checkpoint["id"] else self._parent_of(ns, parent), ns)
        old = self.saved.get((ns, checkpoint["id"]))
        self.saved[(ns, checkpoint["id"])] = Saved(doc, old.writes if old else [])
        self.latest[ns] = checkpoint["id"]
        self.puts.append(doc)
        return self._config(ns, checkpoint["id"])

    def _parent_of(self, ns: str, cid: str | None) -> str | None:
        saved = self.saved.get((ns, cid or ""))
        return saved.doc.get("parent_id") if saved else None

    async def aput(
        self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self.put(config, checkpoint, metadata, new_versions)

    def put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        conf = config.get("configurable") or {}
        ns = conf.get("checkpoint_ns") or ""
        cid = conf["checkpoint_id"]
        saved = self.saved.get((ns, cid))
        if saved is not None:
            kept = [w for w in saved.writes if w[0] != task_id]
            saved.writes = kept + [(task_id, c, v) for c, v in writes]
        self.written.append((ns, cid, task_id, list(writes)))

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        self.put_writes(config, writes, task_id, task_path)

    def delete_thread(self, thread_id: str) -> None:
        self.saved.clear()
        self.latest.clear()

    async def adelete_thread(self, thread_id: str) -> None:
        self.delete_thread(thread_id)


def _stub(cid: str) -> Checkpoint:
    return Checkpoint(v=4, id=cid, ts="", channel_values={}, channel_versions={}, versions_seen={},
                      updated_channels=None)
