"""`/store`: the key-value store (put, get, delete, search, list namespaces).

With custom auth the `store` handlers see each call's `value` (namespace as a tuple, as on LangGraph
Platform) and may rewrite its namespace, e.g. to prefix the caller's id; the call then uses theirs.
"""

from __future__ import annotations

from typing import Any, cast

import msgspec
from litestar import MediaType, Response, Router, delete, get, post, put
from litestar.params import FromQuery, JSONBody

from api.app import ApiResponse, AuthzDep, Conn, SettingsDep
from api.auth import Authz
from api.models import Item, ListNamespaceResponse, SearchItem, SearchItemsResponse
from api.schemas import StoreDelete, StoreNamespaces, StorePut, StoreSearch, as_bool
from engine.durable import kv
from engine.errors import InvalidInput, TooLarge, Unsupported


async def _authorized(authz: Authz, action: str, value: dict[str, Any]) -> dict[str, Any]:
    """Run the store handlers; the namespace they leave in `value` (a tuple) as a list again."""
    await authz("store", action, value)
    for key in ("namespace", "suffix"):
        if value.get(key) is not None:
            value[key] = [str(part) for part in value[key]]
    return value


@put("/store/items", status_code=204)
async def put_item(data: JSONBody[StorePut], conn: Conn, authz: AuthzDep, settings: SettingsDep) -> None:
    if data.index:  # `index=False` (do not index) is what this store always does
        raise Unsupported("index: the store has no vector index, so fields cannot be indexed for semantic search")
    limit = settings.limits.store_value_bytes
    if (size := len(msgspec.json.encode(data.value))) > limit:
        raise TooLarge(f"value is {size} bytes serialized, over the store value limit of {limit} bytes "
                       "(DURAGRAPH_MAX_STORE_VALUE_BYTES)")
    v = await _authorized(authz, "put", {"namespace": tuple(data.namespace), "key": data.key, "value": data.value,
                                         "index": data.index})
    await kv.put(conn, v["namespace"], v["key"], v["value"], ttl_minutes=data.ttl)


@get("/store/items")
async def get_item(conn: Conn, authz: AuthzDep, key: FromQuery[str | None] = None,
                   namespace: FromQuery[str | None] = None, refresh_ttl: FromQuery[str | None] = None
                   ) -> Response[Item | None]:
    if not key:
        raise InvalidInput("Query parameter 'key' is required")
    v = await _authorized(authz, "get", {"namespace": tuple(kv.split_namespace(namespace or "")), "key": key})
    item = await kv.get(conn, v["namespace"], v["key"], refresh_ttl=as_bool(refresh_ttl, True))
    if item is None:
        return ApiResponse(b"null", media_type=MediaType.JSON)
    return ApiResponse(item)


@delete("/store/items", status_code=204)
async def delete_item(data: JSONBody[StoreDelete], conn: Conn, authz: AuthzDep) -> None:
    v = await _authorized(authz, "delete", {"namespace": tuple(data.namespace), "key": data.key})
    await kv.delete(conn, v["namespace"], v["key"])


@post("/store/items/search", status_code=200)
async def search_items(conn: Conn, authz: AuthzDep, data: JSONBody[StoreSearch | None] = None) -> SearchItemsResponse:
    data = data or StoreSearch()
    if data.query:
        raise Unsupported("query (semantic search) is not supported: the store has no vector index")
    v = await _authorized(authz, "search", {"namespace": tuple(data.namespace_prefix), "filter": data.filter,
                                            "limit": data.limit, "offset": data.offset, "query": data.query})
    items = await kv.search(
        conn, v["namespace"], filter=v["filter"], limit=data.limit, offset=data.offset,
        refresh_ttl=True if data.refresh_ttl is None else data.refresh_ttl,
    )
    return {"items": cast("list[SearchItem]", items)}


@post("/store/namespaces", status_code=200)
async def list_namespaces(conn: Conn, authz: AuthzDep, data: JSONBody[StoreNamespaces | None] = None
                          ) -> ListNamespaceResponse:
    data = data or StoreNamespaces()
    v = await _authorized(authz, "list_namespaces", {
        "namespace": tuple(data.prefix) if data.prefix is not None else None,
        "suffix": tuple(data.suffix) if data.suffix is not None else None,
        "max_depth": data.max_depth, "limit": data.limit, "offset": data.offset,
    })
    namespaces = await kv.list_namespaces(
        conn, prefix=v["namespace"], suffix=v["suffix"], max_depth=data.max_depth, limit=data.limit,
        offset=data.offset,
    )
    return {"namespaces": namespaces}


router = Router(path="/", route_handlers=[put_item, get_item, delete_item, search_items, list_namespaces],
                tags=["store"])
