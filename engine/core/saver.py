"""A LangGraph checkpointer over documents the durable layer loaded from Postgres, in memory.

LangGraph's own loop (`AsyncPregelLoop`), `get_state` and `update_state` read the thread through it and
write into it; the durable layer then persists what was written (`puts`, `writes`) in its transaction.

Checkpoint documents are JSON. A root-namespace checkpoint keeps only its channels' versions; the values
are blobs, one per (channel, version), and a checkpoint brings only the blobs of the channels its step
changed (`blobs`, as LangGraph's own Postgres saver does; a None value, a branch's trigger, is listed in the
document instead, `NULLS`). A list the step only appended to is a delta
(the appended items, over the version it extends); every `FULL_EVERY` deltas, a chunk row gathers the
items appended since the previous chunk, so a read replays at most `FULL_EVERY` deltas (then one row per
chunk) and every item is stored at most twice, however long the list grows. The
durable layer stores the blobs and, when it loads a document, puts its values back (`RESOLVED`: Python
objects, never stored). Subgraph checkpoints (kept with their task's outcome) embed their values.
"""

from __future__ import annotations

import base64
import copy
import re
import secrets
import zlib
from collections.abc import AsyncIterator, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)

from engine.core import codec

RESOLVED = "_values"  # a loaded document's channel values, as Python objects (not stored)
CHANGES = "_changes"  # what a new checkpoint changed: channel -> ("set", value) | ("append", items) | ("unset",)
FULL_EVERY = 32  # deltas of a list channel between two chunks
NULLS = "nulls"  # the channels whose value is None: no blob row, the document lists them


def new_version(current: Any) -> str:
    """A channel version unique across forks of one thread: the counter orders them, the random part keeps
    two branches' versions apart (as LangGraph's Postgres saver does). LangGraph compares a channel's
    versions with `>` and takes `max()` across channels, so versions sort as their counters do: the counter
    in hex after a letter giving its length (`c3e8.` is 1000), then 48 random bits (8 base64url characters).
    A thread begun with the older, longer form (32 decimal digits, then 16 hex; written before migration
    0013) keeps it: the next version is made in the form of the current one, so the two never meet."""
    if current is None:
        return _short(1)
    text = str(current)
    if _LEGACY.fullmatch(text):
        return f"{int(text[:32]) + 1:032}.{secrets.token_hex(8)}"
    return _short(int(text[1:1 + ord(text[0]) - _LENGTH_BASE], 16) + 1)


_LEGACY = re.compile(r"[0-9]{32}\.[0-9a-f]{16}")
_LENGTH_BASE = ord("a") - 1  # 'a': a counter of 1 hex digit, 'b': 2 digits...


def _short(n: int) -> str:
    digits = f"{n:x}"
    return f"{chr(_LENGTH_BASE + len(digits))}{digits}.{secrets.token_urlsafe(6)}"


# LangGraph's part of a root checkpoint's document (`lg`: versions, versions seen, ts) is stored packed:
# zlib over its JSON with a preset dictionary of the names every checkpoint repeats, in base64 (`lgz`).
# Those names and the versions' structure were most of a document's bytes.
PACKED = "lgz"
_ZDICT = (b'"__input__":{},"__start__":{"__start__":"","branch:to:","messages":"'
          b'{"v":4,"ts":"2026-01-01T00:00:00.000000+00:00","versions_seen":{},"channel_versions":{},'
          b'"updated_channels":["messages"]}')


def lg_of(doc: dict[str, Any]) -> dict[str, Any]:
    """A document's LangGraph part (unpacked once, kept in the loaded document)."""
    lg = doc.get("lg")
    if lg is None:
        unzip = zlib.decompressobj(zdict=_ZDICT)
        lg = doc["lg"] = orjson.loads(unzip.decompress(base64.b64decode(doc[PACKED])) + unzip.flush())
    return lg  # type: ignore[no-any-return]


def _packed(lg: dict[str, Any]) -> str:
    z = zlib.compressobj(level=6, zdict=_ZDICT)
    return base64.b64encode(z.compress(orjson.dumps(lg)) + z.flush()).decode()


def values_of(doc: dict[str, Any]) -> dict[str, Any]:
    """A document's channel values as Python objects (resolved, or decoded from the embedded form)."""
    if RESOLVED in doc:
        return doc[RESOLVED]  # type: ignore[no-any-return]
    if "channel_values" not in lg_of(doc):
        raise ValueError(f"checkpoint {doc.get('id')}: its values are stored apart; resolve the document first "
                         "(engine.durable.blobs.resolve)")
    return codec.decode_map(doc["lg"]["channel_values"])


def blob_doc(checkpoint: Checkpoint, metadata: CheckpointMetadata, parent_id: str | None,
             parent: dict[str, Any] | None, changed: Any) -> dict[str, Any]:
    """A root checkpoint's document: versions only, plus the blobs of the `changed` channels (appends to a
    list the parent held as deltas) and the values themselves, resolved, for whoever uses it next in this
    process."""
    doc = to_doc(checkpoint, metadata, parent_id, embed=False)
    if doc["metadata"] == _derived_metadata(doc):  # (as a root checkpoint's almost always is)
        del doc["metadata"]
    prev_values = values_of(parent) if parent is not None else {}
    prev_versions = lg_of(parent)["channel_versions"] if parent is not None else {}
    versions = checkpoint["channel_versions"]
    # a channel at its parent's version holds its parent's value: keep that object (what the process caches
    # for the version), as LangGraph's savers keep its blob. Channels hand out their live containers (a
    # join's set grows in place): keep a snapshot of the others
    values = {k: (prev_values[k] if k in prev_values and k not in changed and versions.get(k) == prev_versions.get(k)
                  else copy.copy(v) if isinstance(v, (list, set, dict)) else v)
              for k, v in checkpoint["channel_values"].items()}
    prev_depths = parent.get("depths", {}) if parent is not None else {}
    prev_chunks = parent.get("chunks", {}) if parent is not None else {}
    depths = {ch: d for ch, d in prev_depths.items() if ch in values}
    chunks = {ch: c for ch, c in prev_chunks.items() if ch in values}  # channel -> [version, length] of its chunk
    blobs = []
    changes: dict[str, tuple[Any, ...]] = {}
    for ch in changed:
        if ch not in values:
            changes[ch] = ("unset",)
            continue
        value = values[ch]
        if value is None:  # (a branch's trigger, mostly) listed in the document: no row
            changes[ch] = ("set", None)
            depths.pop(ch, None)
            chunks.pop(ch, None)
            continue
        version = versions[ch]
        old = prev_values.get(ch)
        base = prev_versions.get(ch)
        depth = prev_depths.get(ch, 0) + 1
        chunk = prev_chunks.get(ch)
        # an append: the old list is a prefix of the new one (list equality compares identity first, in C)
        if (isinstance(value, list) and isinstance(old, list) and base is not None and chunk is not None
                and len(value) >= len(old) and value[:len(old)] == old):
            changes[ch] = ("append", value[len(old):])
            if depth < FULL_EVERY:  # a delta: the items appended to the version it extends
                blob = _blob(ch, version, base, depth, {"items": value[len(old):]})
            else:  # a chunk: the items appended since the previous chunk, over that chunk
                depth = 0
                blob = _blob(ch, version, chunk[0], 0, {"items": value[chunk[1]:]})
                chunks[ch] = [version, len(value)]
        else:
            depth = 0
            changes[ch] = ("set", value)
            blob = _blob(ch, version, None, 0, {"items": value} if isinstance(value, list) else {"value": value})
            if isinstance(value, list):
                chunks[ch] = [version, len(value)]
            else:
                chunks.pop(ch, None)
        if depth:
            depths[ch] = depth
        else:
            depths.pop(ch, None)
        blobs.append(blob)
    doc["depths"] = depths
    doc["chunks"] = chunks
    nulls = [ch for ch, v in values.items() if v is None]
    if nulls:
        doc[NULLS] = nulls
    doc[CHANGES] = changes
    doc["blobs"] = blobs
    doc[RESOLVED] = values
    return doc


ROW_COLUMNS = ("id", "parent_id", "step", "ns")  # what a checkpoint's row holds in columns of its own


def _blob(channel: str, version: Any, base: str | None, depth: int, payload: dict[str, Any]) -> dict[str, Any]:
    data, size = codec.pack_sized(payload)
    return {"channel": channel, "version": version, "base": base, "depth": depth, "data": data, "size": size}


def storable(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as stored: no resolved values, no blobs (they go to their own rows). A root checkpoint's
    keeps LangGraph's part packed and leaves out what its row's columns hold (`ROW_COLUMNS`: the queries
    that read a document put them back, `duragraph_checkpoint_doc` in migration 0015); a document that
    embeds its values keeps everything as it is."""
    lg = lg_of(doc)
    if "channel_values" in lg:
        return {k: v for k, v in doc.items() if k not in (RESOLVED, CHANGES, "blobs")}
    out = {k: v for k, v in doc.items() if k not in (RESOLVED, CHANGES, "blobs", "lg", PACKED, *ROW_COLUMNS)}
    out[PACKED] = _packed(lg)
    return out


def to_doc(checkpoint: Checkpoint, metadata: CheckpointMetadata, parent_id: str | None, ns: str = "", *,
           embed: bool = True) -> dict[str, Any]:
    """The JSON document of a checkpoint (what the durable layer stores; `id`/`step`/`parent_id`/`source`
    are the fields it reads). `embed`: the channel values are in the document itself (subgraphs)."""
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
            **({"channel_values": codec.encode_map(checkpoint["channel_values"])} if embed else {}),
            "channel_versions": checkpoint["channel_versions"],
            "versions_seen": checkpoint["versions_seen"],
            "updated_channels": checkpoint.get("updated_channels"),
        },
        "metadata": codec.to_wire({k: v for k, v in meta.items() if k not in ("writes",)}),
    }


def from_doc(doc: dict[str, Any], copy_only: Collection[str] | None = None) -> tuple[Checkpoint, CheckpointMetadata]:
    """The checkpoint LangGraph reads. Its containers are copies (the document's values are what the
    process caches by version): a channel may grow its container in place (a join's set), a reducer may
    change its input, a node its state. `copy_only`: the channels that can change at all (those the pending
    writes update); the others are handed out as they are, so reading a long list costs nothing."""
    lg = lg_of(doc)
    checkpoint = Checkpoint(
        v=lg["v"],
        id=doc["id"],
        ts=lg["ts"],
        channel_values={k: (copy.copy(v) if isinstance(v, (list, set, dict)) and (copy_only is None or k in copy_only)
                            else v)
                        for k, v in values_of(doc).items()},
        channel_versions=dict(lg["channel_versions"]),
        versions_seen={k: dict(v) for k, v in lg["versions_seen"].items()},
        updated_channels=lg.get("updated_channels"),
    )
    if "metadata" in doc:
        metadata: CheckpointMetadata = dict(doc["metadata"] or {})  # type: ignore[assignment]
        metadata.setdefault("source", doc.get("source", "loop"))  # type: ignore[typeddict-item]
        metadata.setdefault("step", doc["step"])
    else:
        metadata = _derived_metadata(doc)  # type: ignore[assignment]
    return checkpoint, metadata


def _derived_metadata(doc: dict[str, Any]) -> dict[str, Any]:
    """LangGraph's metadata of a root checkpoint, from the document's own fields: stored only when it holds
    more than these."""
    return {"source": doc.get("source", "loop"), "step": doc["step"], "parents": {}}


PendingWrite = tuple[str, str, Any]


@dataclass
class Saved:
    doc: dict[str, Any]
    writes: list[PendingWrite] = field(default_factory=list)


class DocSaver(BaseCheckpointSaver[str]):
    """Checkpoints of one thread, by namespace and id. `latest[ns]` is what a read without a checkpoint id
    gets. Every put is recorded in `puts` / `written` for the durable layer to persist."""

    def __init__(self, thread_id: str, *, writes_only: bool = False) -> None:
        # BaseCheckpointSaver.__init__ only sets `serde` (its default, checked against a runtime Protocol:
        # about 40 µs, and a step builds several savers); the same serializer, set directly
        self.serde = BaseCheckpointSaver.serde
        self.thread_id = thread_id
        # only the pending writes change the channels read from this saver (a barrier: no node runs, no
        # input): a checkpoint read copies only the channels they write (`from_doc`)
        self.writes_only = writes_only
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
        checkpoint, metadata = from_doc(saved.doc, {c for _, c, _ in saved.writes} if self.writes_only else None)
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

    def get_next_version(self, current: str | None, channel: None) -> str:
        return new_version(current)

    # -- writes ----------------------------------------------------------------------------------------
    def put(
        self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        conf = config.get("configurable") or {}
        ns = conf.get("checkpoint_ns") or ""
        parent = conf.get("checkpoint_id")
        parent_id = parent if parent != checkpoint["id"] else self._parent_of(ns, parent)
        if ns:
            doc = to_doc(checkpoint, metadata, parent_id, ns)
        else:
            before = self.saved.get(("", parent or ""))
            doc = blob_doc(checkpoint, metadata, parent_id, before.doc if before else None, new_versions)
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
