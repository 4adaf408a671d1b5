"""`/assistants`: create, read, update (versioned), delete, search, count, versions, latest, and the
graph / schemas / subgraphs of the assistant's compiled graph."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from litestar import Response, Router, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody

from api.app import ApiResponse, AuthzDep, Conn, Graphs
from api.idempotency import IdemKey
from api.models import Assistant, AssistantVersion, Graph, GraphSchema
from api.schemas import (
    AssistantCount,
    AssistantCreate,
    AssistantPatch,
    AssistantSearch,
    AssistantSetLatest,
    AssistantVersionSearch,
    as_bool,
    check_sort_by,
    dict_or_none,
    pagination_headers,
    parse_uuid,
    select_fields,
)
from engine.durable import access, assistants, idempotency
from engine.durable.ids import uuid7
from engine.errors import InvalidInput, NotFound, Unsupported


def _aid(assistant_id: str, graphs: Graphs) -> Any:
    return assistants.resolve_id(assistant_id, graphs.keys())


@post("/assistants", status_code=200)
async def create_assistant(data: JSONBody[AssistantCreate], conn: Conn, graphs: Graphs,
                           authz: AuthzDep, idempotency_key: IdemKey) -> Assistant:
    assistants.require_graph(data.graph_id, graphs.keys())
    aid = parse_uuid(data.assistant_id, "assistant") if data.assistant_id else uuid7()
    value: dict[str, Any] = {"assistant_id": aid, "graph_id": data.graph_id, "config": data.config or {},
                             "context": data.context or {}, "metadata": dict(data.metadata or {}),
                             "if_exists": data.if_exists or "raise", "name": data.name}
    scope = await authz("assistants", "create", value)  # handlers may stamp value["metadata"]

    async def create() -> dict[str, Any]:
        created = await assistants.create(
            conn, graph_id=data.graph_id, assistant_id=aid, config=data.config, context=data.context,
            metadata=value["metadata"], name=data.name, description=data.description,
            if_exists=data.if_exists or "raise",
        )
        await access.require_assistant(conn, aid, scope)  # do_nothing on another caller's id: not shown
        return created

    async with conn.transaction():
        return cast("Assistant", await idempotency.once(conn, idempotency_key, create,
                                                        lambda a: {"assistant_id": str(a["assistant_id"])},
                                                        lambda ids: assistants.get(conn, UUID(ids["assistant_id"]))))


@post("/assistants/search", status_code=200)
async def search_assistants(conn: Conn, authz: AuthzDep,
                            data: JSONBody[AssistantSearch | None] = None) -> Response[list[Assistant]]:
    data = data or AssistantSearch()
    sort_by = check_sort_by(data.sort_by, assistants.SORT_FIELDS)
    value: dict[str, Any] = {"graph_id": data.graph_id, "metadata": dict(data.metadata or {}), "limit": data.limit,
             "offset": data.offset}
    scope = await authz("assistants", "search", value)
    items, total = await assistants.search(
        conn, metadata=dict_or_none(value["metadata"]), graph_id=data.graph_id, name=data.name, limit=data.limit,
        offset=data.offset, sort_by=sort_by, sort_order=data.sort_order or "desc", scope=scope,
    )
    body = [select_fields(a, data.select, assistants.SELECT_FIELDS) for a in items]
    return ApiResponse(body, headers=pagination_headers(total, data.limit, data.offset, len(items)))


@post("/assistants/count", status_code=200)
async def count_assistants(conn: Conn, authz: AuthzDep, data: JSONBody[AssistantCount | None] = None) -> int:
    data = data or AssistantCount()
    value: dict[str, Any] = {"graph_id": data.graph_id, "metadata": dict(data.metadata or {})}
    scope = await authz("assistants", "search", value)
    return await assistants.count(conn, metadata=dict_or_none(value["metadata"]), graph_id=data.graph_id,
                                  name=data.name, scope=scope)


@get("/assistants/{assistant_id:str}")
async def get_assistant(assistant_id: FromPath[str], conn: Conn, graphs: Graphs,
                        authz: AuthzDep) -> Assistant:
    aid = _aid(assistant_id, graphs)
    await authz.assistant("read", aid)
    return cast("Assistant", await assistants.get(conn, aid))


@patch("/assistants/{assistant_id:str}")
async def update_assistant(assistant_id: FromPath[str], data: JSONBody[AssistantPatch], conn: Conn,
                           graphs: Graphs, authz: AuthzDep) -> Assistant:
    if data.graph_id is not None:
        assistants.require_graph(data.graph_id, graphs.keys())
    aid = _aid(assistant_id, graphs)
    value: dict[str, Any] = {"graph_id": data.graph_id, "config": data.config, "context": data.context,
                             "name": data.name, "metadata": data.metadata}
    await authz.assistant("update", aid, **value)
    return cast("Assistant", await assistants.update(
        conn, aid, graph_id=data.graph_id, config=data.config, context=data.context,
        metadata=data.metadata, name=data.name, description=data.description,
    ))


@delete("/assistants/{assistant_id:str}", status_code=204)
async def delete_assistant(assistant_id: FromPath[str], conn: Conn, graphs: Graphs, authz: AuthzDep,
                           delete_threads: FromQuery[str | None] = None) -> None:
    aid = _aid(assistant_id, graphs)
    await authz.assistant("delete", aid)
    await assistants.delete(conn, aid, delete_threads=as_bool(delete_threads))


@post("/assistants/{assistant_id:str}/versions", status_code=200)
async def assistant_versions(assistant_id: FromPath[str], conn: Conn, graphs: Graphs, authz: AuthzDep,
                             data: JSONBody[AssistantVersionSearch | None] = None) -> list[AssistantVersion]:
    data = data or AssistantVersionSearch()
    aid = _aid(assistant_id, graphs)
    await authz.assistant("read", aid)
    return cast("list[AssistantVersion]", await assistants.versions(conn, aid, metadata=dict_or_none(data.metadata),
                                     limit=data.limit, offset=data.offset))


@post("/assistants/{assistant_id:str}/latest", status_code=200)
async def set_latest_version(assistant_id: FromPath[str], data: JSONBody[AssistantSetLatest], conn: Conn,
                             graphs: Graphs, authz: AuthzDep) -> Assistant:
    aid = _aid(assistant_id, graphs)
    await authz.assistant("update", aid, version=data.version)
    return cast("Assistant", await assistants.set_latest(conn, aid, data.version))


# -- the compiled graph behind an assistant ------------------------------------------------------


async def _graph_of(assistant_id: str, conn: Conn, graphs: Graphs, authz: AuthzDep) -> tuple[str, Any]:
    aid = _aid(assistant_id, graphs)
    await authz.assistant("read", aid)
    assistant = await assistants.get(conn, aid)
    graph_id = assistant["graph_id"]
    graph = graphs.get(graph_id)
    if graph is None:
        raise NotFound(f"Graph '{graph_id}' of assistant {assistant['assistant_id']} is not loaded")
    return graph_id, graph


def _call(graph: Any, method: str) -> Any:
    fn = getattr(graph, method, None)
    if fn is None:
        raise Unsupported(f"graph {getattr(graph, 'name', '?')!r} does not provide {method}()")
    return fn()


def _schemas(graph_id: str, graph: Any) -> dict[str, Any]:
    return {
        "graph_id": graph_id,
        "input_schema": _call(graph, "input_jsonschema"),
        "output_schema": _call(graph, "output_jsonschema"),
        "state_schema": _call(graph, "state_jsonschema"),
        "config_schema": None,
        "context_schema": _call(graph, "context_jsonschema"),
    }


def _subgraphs(graph_id: str, graph: Any, *, prefix: str, recurse: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, sub in (_call(graph, "subgraphs") or {}).items():
        ns = f"{prefix}|{name}" if prefix else name
        out[ns] = _schemas(graph_id, sub)
        if recurse:
            out.update(_subgraphs(graph_id, sub, prefix=ns, recurse=True))
    return out


def _xray(value: str | None) -> int:
    if value is None or value.lower() in ("", "false", "0"):
        return 0
    if value.lower() == "true":
        return 1_000
    try:
        return max(int(value), 0)
    except ValueError:
        raise InvalidInput(f"Invalid xray {value!r}: expected true, false or a depth") from None


def _draw(graph: Any, xray: int) -> dict[str, Any]:
    drawing: dict[str, Any] = _call(graph, "draw")
    if xray <= 0:
        return drawing
    # expand subgraph nodes: `node` -> `node:child` nodes, edges into the subgraph's entry and out of its ends
    subs = _call(graph, "subgraphs") or {}
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = [e for e in drawing["edges"] if e["source"] not in subs and e["target"] not in subs]
    for node in drawing["nodes"]:
        name = node["id"]
        if name not in subs:
            nodes.append(node)
            continue
        inner = _draw(subs[name], xray - 1)
        ends = {"__start__", "__end__"}
        for n in inner["nodes"]:
            if n["id"] not in ends:
                nodes.append({**n, "id": f"{name}:{n['id']}"})
        for e in inner["edges"]:
            src = name if e["source"] == "__start__" else f"{name}:{e['source']}"
            dst = name if e["target"] == "__end__" else f"{name}:{e['target']}"
            if src == name or dst == name:
                continue
            edges.append({**e, "source": src, "target": dst})
        firsts = [e["target"] for e in inner["edges"] if e["source"] == "__start__" and e["target"] not in ends]
        lasts = [e["source"] for e in inner["edges"] if e["target"] == "__end__" and e["source"] not in ends]
        for e in drawing["edges"]:
            if e["target"] == name:
                edges.extend({**e, "target": f"{name}:{f}"} for f in firsts)
            if e["source"] == name:
                edges.extend({**e, "source": f"{name}:{x}"} for x in lasts)
    return {"nodes": nodes, "edges": edges}


@get("/assistants/{assistant_id:str}/graph")
async def assistant_graph(assistant_id: FromPath[str], conn: Conn, graphs: Graphs, authz: AuthzDep,
                          xray: FromQuery[str | None] = None) -> Graph:
    _, graph = await _graph_of(assistant_id, conn, graphs, authz)
    return cast("Graph", _draw(graph, _xray(xray)))


@get("/assistants/{assistant_id:str}/schemas")
async def assistant_schemas(assistant_id: FromPath[str], conn: Conn, graphs: Graphs,
                            authz: AuthzDep) -> GraphSchema:
    graph_id, graph = await _graph_of(assistant_id, conn, graphs, authz)
    return cast("GraphSchema", _schemas(graph_id, graph))


@get("/assistants/{assistant_id:str}/subgraphs")
async def assistant_subgraphs(assistant_id: FromPath[str], conn: Conn, graphs: Graphs, authz: AuthzDep,
                              recurse: FromQuery[str | None] = None) -> dict[str, GraphSchema]:
    graph_id, graph = await _graph_of(assistant_id, conn, graphs, authz)
    return _subgraphs(graph_id, graph, prefix="", recurse=as_bool(recurse))


@get("/assistants/{assistant_id:str}/subgraphs/{namespace:str}")
async def assistant_subgraphs_ns(assistant_id: FromPath[str], namespace: FromPath[str], conn: Conn,
                                 graphs: Graphs, authz: AuthzDep,
                                 recurse: FromQuery[str | None] = None) -> dict[str, GraphSchema]:
    graph_id, graph = await _graph_of(assistant_id, conn, graphs, authz)
    found = _subgraphs(graph_id, graph, prefix="", recurse=True)
    return {ns: s for ns, s in found.items()
            if ns == namespace or (as_bool(recurse) and ns.startswith(namespace + "|"))}


router = Router(
    path="/",
    route_handlers=[
        create_assistant, search_assistants, count_assistants, get_assistant, update_assistant, delete_assistant,
        assistant_versions, set_latest_version, assistant_graph, assistant_schemas, assistant_subgraphs,
        assistant_subgraphs_ns,
    ],
    tags=["assistants"],
)
