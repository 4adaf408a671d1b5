"""Running as root, the embedded PostgreSQL runs as another OS user, which must reach its data folder:
only the traverse bit (o+x) is added, only where missing, and each folder changed is named in a warning."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from duragraph.services import _ensure_traversable


def test_only_traverse_is_added_and_said(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    closed, inner = tmp_path / "closed", tmp_path / "closed" / "inner"
    inner.mkdir(parents=True)
    closed.chmod(0o700)
    inner.chmod(0o750)
    tmp_path.chmod(0o755)
    with caplog.at_level(logging.WARNING, logger="duragraph.services"):
        _ensure_traversable(inner)
    assert stat.S_IMODE(closed.stat().st_mode) == 0o701  # traverse only: not listable, not readable
    assert stat.S_IMODE(inner.stat().st_mode) == 0o751
    [record] = caplog.records
    assert f"{inner}, {closed}" in record.getMessage() and str(tmp_path) + "," not in record.getMessage()

    caplog.clear()
    _ensure_traversable(inner)  # nothing left to change: nothing said
    assert not caplog.records
