"""`/store`: the key-value store (put, get, delete, search, list namespaces)."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Response, Router, delete, get, post, put
from litestar.params import FromQuery, JSONBody

from api.app import ApiResponse, Conn
from api.schemas import StoreDelete, StoreNamespaces, StorePut, StoreSearch, as_bool
from engine.durable import kv
from engine.errors import InvalidInput, Unsupported


@put("/store/items", status_code=204)
async def put_item(data: JSONBody[StorePut], conn: Conn) -> None:
    if data.index:  # `index=False` (do not index) is what this store always does
        raise Unsupported("index: the store has no vector index, so fields cannot be indexed for semantic search")
    await kv.put(conn, data.namespace, data.key, data.value, ttl_minutes=data.ttl)


@get("/store/items")
async def get_item(conn: Conn, key: FromQuery[str | None] = None, namespace: FromQuery[str | None] = None,
                   refresh_ttl: FromQuery[str | None] = None) -> Response[Any]:
    if not key:
        raise InvalidInput("Query parameter 'key' is required")
    item = await kv.get(conn, kv.split_namespace(namespace or ""), key, refresh_ttl=as_bool(refresh_ttl, True))
    if item is None:
        return ApiResponse(b"null", media_type=MediaType.JSON)
    return ApiResponse(item)


@delete("/store/items", status_code=204)
async def delete_item(data: JSONBody[StoreDelete], conn: Conn) -> None:
    await kv.delete(conn, data.namespace, data.key)


@post("/store/items/search", status_code=200)
async def search_items(conn: Conn, data: JSONBody[StoreSearch | None] = None) -> dict[str, Any]:
    data = data or StoreSearch()
    if data.query:
        raise Unsupported("query (semantic search) is not supported: the store has no vector index")
    items = await kv.search(
        conn, data.namespace_prefix, filter=data.filter, limit=data.limit, offset=data.offset,
        refresh_ttl=True if data.refresh_ttl is None else data.refresh_ttl,
    )
    return {"items": items}


@post("/store/namespaces", status_code=200)
async def list_namespaces(conn: Conn, data: JSONBody[StoreNamespaces | None] = None) -> dict[str, Any]:
    data = data or StoreNamespaces()
    namespaces = await kv.list_namespaces(
        conn, prefix=data.prefix, suffix=data.suffix, max_depth=data.max_depth, limit=data.limit, offset=data.offset
    )
    return {"namespaces": namespaces}


router = Router(path="/", route_handlers=[put_item, get_item, delete_item, search_items, list_namespaces],
                tags=["store"])
