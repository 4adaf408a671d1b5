"""What a checkpoint row's `metadata` column keeps: the metadata the API shows, without what the row's own
columns already say (`step`, `run_id`, `thread_id`) nor a root checkpoint's empty `parents`.

The queries that read the column (`sql/runs.sql`: get_checkpoint, thread_checkpoint, history) put those
back in front of what is stored (`duragraph_checkpoint_metadata`, migration 0013), so a key is left out
only when its value is the one rebuilt; rows written before hold every key and read the same.
"""

from __future__ import annotations

import uuid
from typing import Any


def stored_metadata(metadata: dict[str, Any], *, step: int, run_id: uuid.UUID | None,
                    thread_id: uuid.UUID) -> dict[str, Any]:
    derived: dict[str, Any] = {"step": step, "thread_id": str(thread_id), "parents": {}}
    if run_id is not None:
        derived["run_id"] = str(run_id)
    return {k: v for k, v in metadata.items() if k not in derived or derived[k] != v}
