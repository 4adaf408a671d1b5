"""What every durable operation needs: the pool, the graphs, and where events are published."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import asyncpg

from engine.core.compiled import CompiledGraph
from engine.errors import NotFound


@dataclass(frozen=True)
class Runtime:
    pool: asyncpg.Pool
    graphs: Mapping[str, CompiledGraph]
    subject_prefix: str = "duragraph"

    def graph(self, graph_id: str) -> CompiledGraph:
        try:
            return self.graphs[graph_id]
        except KeyError:
            raise NotFound(f"Graph '{graph_id}' not found. Expected one of: {sorted(self.graphs)}") from None
