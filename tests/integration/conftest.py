"""Fixtures of the API tests: a live API on the test's database, and the SDK client pointed at it.
A test module chooses the graphs it serves by overriding `api_graphs`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.integration.server import serve_api


@pytest.fixture
def api_graphs() -> Mapping[str, object]:
    return {}


@pytest.fixture
def base_url(database_url: str, api_graphs: Mapping[str, object]) -> Iterator[str]:
    with serve_api(database_url, api_graphs) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> LangGraphClient:
    return get_client(url=base_url, api_key=None)
