"""A live API (uvicorn on 127.0.0.1) plus in-process workers on one test database."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

from engine.core.compiled import CompiledGraph
from tests.integration.engine_support import Engine, engine
from tests.integration.server import serve_api


@contextlib.asynccontextmanager
async def live(database_url: str, graphs: Mapping[str, CompiledGraph], **engine_kw: Any
               ) -> AsyncIterator[tuple[str, Engine]]:
    """Yields (base_url, engine): the API serves the graphs, workers run their steps."""
    async with engine(database_url, graphs, **engine_kw) as e:
        with serve_api(database_url, graphs) as url:
            yield url, e
