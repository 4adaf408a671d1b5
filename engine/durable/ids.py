"""Identifiers minted by the service: time-ordered UUIDs, as LangGraph Platform mints them."""

from __future__ import annotations

import os
import time
from uuid import UUID


def uuid7() -> UUID:
    """A time-ordered UUID (RFC 9562 version 7) for threads, runs and crons."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rand >> 62 & 0xFFF) << 64 | 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return UUID(int=value)
