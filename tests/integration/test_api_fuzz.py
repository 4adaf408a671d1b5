"""schemathesis against /openapi.json with the app on real Postgres: no 5xx across generated cases."""

from __future__ import annotations

import sys
import uuid
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, example, given, settings

from tests.integration import graphs as G
from tests.integration.server import serve_api

EXAMPLES_PER_OPERATION = 15
NESTING = 1000  # JSON nested this deep (8 KB) was a RecursionError and a 500; now 422 (issue 15)


def deeply_nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"a": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return {"metadata": value}


DEEP = deeply_nested(NESTING)


def deep_example(op: Any) -> Any:
    """An explicit example for an operation with a JSON body: the deep-nesting body (else None)."""
    if op.method.upper() not in ("POST", "PUT", "PATCH") or not any("json" in b.media_type for b in op.body):
        return None
    params = {p.name: str(uuid.uuid4()) for p in op.path_parameters}
    return op.Case(body=DEEP, media_type="application/json", path_parameters=params)


def test_no_server_errors_across_generated_cases(database_url: str) -> None:
    # the client encodes the deep example with the json module, which recurses once per level
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, NESTING * 4))
    try:
        _fuzz(database_url)
    finally:
        sys.setrecursionlimit(limit)


def _fuzz(database_url: str) -> None:
    with serve_api(database_url, {"linear": G.linear(2)}) as url:
        raw = httpx.get(f"{url}/openapi.json").json()
        schema = schemathesis.openapi.from_dict(raw)
        failures: list[str] = []
        operations = 0
        deep_body = DEEP
        deep_answers: list[tuple[str, int]] = []
        for result in schema.get_all_operations():
            op = result.ok()
            operations += 1

            @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=op.as_strategy())
            def check(case: Any) -> None:
                response = case.call(base_url=url, timeout=20)
                if isinstance(case.body, dict) and case.body.get("metadata") == deep_body["metadata"]:
                    deep_answers.append((f"{case.method} {case.formatted_path}", response.status_code))
                # 501 is the deliberate answer for a field DuraGraph does not support; any other 5xx is a bug
                if response.status_code >= 500 and response.status_code != 501:
                    failures.append(f"{case.method} {case.formatted_path} -> {response.status_code} "
                                    f"{response.text[:200]}")
                else:
                    ctype = response.headers.get("content-type", "")
                    if response.status_code >= 400 and "json" in ctype:
                        body = response.json()
                        assert set(body) >= {"detail", "code"}, (case.method, case.formatted_path, body)

            deep = deep_example(op)
            if deep is not None:
                check = example(case=deep)(check)
            check()
        assert operations >= 40, f"only {operations} operations in the OpenAPI document"
        assert not failures, "\n".join(failures[:20])
        # the deep-nesting example ran against every JSON-body operation, refused before any route
        assert len(deep_answers) >= 20 and all(status == 422 for _, status in deep_answers), deep_answers
