"""What every durable operation needs: the pool, the graphs, and where events are published."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from engine.core.compiled import CompiledGraph, as_compiled
from engine.durable.lgstore import PostgresStore
from engine.errors import NotFound


@dataclass(frozen=True)
class Runtime:
    pool: asyncpg.Pool
    graphs: Mapping[str, CompiledGraph]
    subject_prefix: str = "duragraph"
    store: Any = None  # the LangGraph BaseStore nodes get (`runtime.store` / `get_store()`)
    # the largest stored state (a run's input, a node's result, a checkpoint), measured where it is stored
    # (engine/durable/sizes.py); how many runs may wait on one thread. None: no limit
    state_bytes: int | None = None
    pending_runs_per_thread: int | None = None

    def __post_init__(self) -> None:
        # a plain LangGraph graph (compiled or a builder) is wrapped once, here
        object.__setattr__(self, "graphs", {k: as_compiled(g, k) for k, g in self.graphs.items()})
        if self.store is None:  # nodes' `runtime.store` / `get_store()`: the same items as the /store API
            object.__setattr__(self, "store", PostgresStore(self.pool))

    def graph(self, graph_id: str) -> CompiledGraph:
        try:
            return self.graphs[graph_id]
        except KeyError:
            raise NotFound(f"Graph '{graph_id}' not found. Expected one of: {sorted(self.graphs)}") from None
