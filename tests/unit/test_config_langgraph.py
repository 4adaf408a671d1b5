"""Loading users' LangGraph projects as they stand: builders, compiled graphs, prebuilt agents, factories,
and `langgraph.json` picked up by default."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest

from duragraph.config import ConfigError, load_graphs, read_config
from duragraph.settings import default_config_path
from engine.core.compiled import CompiledGraph

GRAPH_PY = textwrap.dedent('''
    from typing import TypedDict

    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langgraph.graph import START, StateGraph
    from langgraph.prebuilt import create_react_agent


    class S(TypedDict):
        n: int


    builder = StateGraph(S)
    builder.add_node("inc", lambda s: {"n": s["n"] + 1})
    builder.add_edge(START, "inc")
    compiled = builder.compile()


    class Model(GenericFakeChatModel):
        def bind_tools(self, tools, **kw):
            return self


    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b


    agent = create_react_agent(Model(messages=iter([AIMessage("done")])), [add])


    def make_graph():
        return builder


    def make_graph_with_config(config):
        assert "configurable" in config
        return builder.compile()


    async def make_graph_async():
        return compiled

    not_a_graph = 42
''')


def _project(tmp_path: Path, name: str, graphs: dict[str, object], **extra: object) -> Path:
    import json

    (tmp_path / "agent.py").write_text(GRAPH_PY)
    path = tmp_path / name
    path.write_text(json.dumps({"graphs": graphs, **extra}))
    return path


def test_every_kind_of_langgraph_graph_loads(tmp_path: Path) -> None:
    path = _project(tmp_path, "langgraph.json", {
        "builder": "./agent.py:builder",
        "compiled": "./agent.py:compiled",
        "agent": {"path": "./agent.py:agent", "description": "a prebuilt agent"},
        "factory": "./agent.py:make_graph",
        "factory_config": "./agent.py:make_graph_with_config",
        "factory_async": "./agent.py:make_graph_async",
    })
    graphs = load_graphs(read_config(path))
    assert set(graphs) == {"builder", "compiled", "agent", "factory", "factory_config", "factory_async"}
    assert all(isinstance(g, CompiledGraph) for g in graphs.values())
    assert "agent" in graphs["agent"].nodes and "tools" in graphs["agent"].nodes
    assert graphs["builder"].node_names() == ["inc"]


def test_not_a_graph_is_one_clear_error(tmp_path: Path) -> None:
    path = _project(tmp_path, "duragraph.json", {"bad": "./agent.py:not_a_graph"})
    with pytest.raises(ConfigError, match=r"graph 'bad' is a int; expected a langgraph StateGraph"):
        load_graphs(read_config(path))


def test_unused_langgraph_json_keys_are_named_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _project(tmp_path, "langgraph.json", {"g": "./agent.py:builder"}, dependencies=["."],
                    store={"index": {}}, checkpointer={"ttl": {}})
    with caplog.at_level(logging.WARNING, logger="duragraph.config"):
        read_config(path)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "checkpointer, dependencies, store" in warnings[0]


def test_langgraph_json_is_the_default_without_duragraph_json(tmp_path: Path) -> None:
    assert default_config_path(tmp_path) == Path("duragraph.json")
    (tmp_path / "langgraph.json").write_text("{}")
    assert default_config_path(tmp_path) == Path("langgraph.json")
    (tmp_path / "duragraph.json").write_text("{}")
    assert default_config_path(tmp_path) == Path("duragraph.json")


def test_http_disable_mcp_and_a2a(tmp_path: Path) -> None:
    from duragraph.serve import with_http_options
    from duragraph.settings import Settings

    (tmp_path / "g.py").write_text("graph = None\n")
    config = tmp_path / "langgraph.json"
    config.write_text('{"graphs": {"g": "./g.py:graph"}, "http": {"disable_mcp": true, "disable_a2a": true}}')
    settings = with_http_options(Settings(config_path=config))
    assert settings.disable_mcp and settings.disable_a2a
    config.write_text('{"graphs": {"g": "./g.py:graph"}}')
    settings = with_http_options(Settings(config_path=config))
    assert not settings.disable_mcp and not settings.disable_a2a
    config.write_text('{"graphs": {"g": "./g.py:graph"}, "http": {"disable_mcp": "yes"}}')
    with pytest.raises(ConfigError, match=r"http\.disable_mcp must be true or false"):
        read_config(config)
