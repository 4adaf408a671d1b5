"""JSON data in the form it reads back from a PostgreSQL `jsonb` column.

jsonb keeps an object's keys shorter first, then by their bytes, and a number as `numeric`, whose text has
no exponent: `1e+16` reads back as the integer 10000000000000000 (orjson reads an integer up to 64 bits as
an int, a longer one as a float). A stream that rebuilds a value which the engine used to send inside an
event (stored as jsonb) passes it through `jsonb_form`, so that what a client receives stays byte for byte
what it was (api/sse.py: items appended by a checkpoint, rebuilt from its tasks' writes).
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

import orjson

_INT_RANGE = (-(2**63), 2**64 - 1)


def _key(k: str) -> tuple[int, bytes]:
    raw = k.encode()
    return len(raw), raw


@functools.lru_cache(maxsize=1024)
def _order(keys: tuple[str, ...]) -> tuple[str, ...]:
    """jsonb's order of an object's keys (objects of one kind, such as messages, share their keys)."""
    return tuple(sorted(keys, key=_key))


def jsonb_form(value: Any) -> Any:
    """`value` (JSON data) as `orjson.loads` reads it back from jsonb."""
    if isinstance(value, dict):
        if all(type(k) is str for k in value):
            return {k: jsonb_form(value[k]) for k in _order(tuple(value))}
        return {str(k): jsonb_form(v) for k, v in sorted(value.items(), key=lambda kv: _key(str(kv[0])))}
    if isinstance(value, list):
        return [jsonb_form(v) for v in value]
    if type(value) is float:
        text = orjson.dumps(value)
        if b"e+" in text:
            n = int(Decimal(text.decode()))
            if _INT_RANGE[0] <= n <= _INT_RANGE[1]:
                return n
    return value
