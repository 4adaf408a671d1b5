"""The runtime port drives LangGraph's private Pregel modules: fail loudly on a version it was not tested with."""

from importlib.metadata import version

from packaging.version import Version


def test_langgraph_version_is_in_the_tested_range() -> None:
    v = Version(version("langgraph"))
    assert Version("1.2.20") <= v < Version("1.3"), f"langgraph {v} is outside the range DuraGraph is tested against"


def test_private_pregel_entry_points_exist() -> None:
    from langgraph.pregel._algo import checkpoint_null_version, prepare_single_task  # noqa: F401
    from langgraph.pregel._loop import AsyncPregelLoop  # noqa: F401
    from langgraph.pregel._retry import arun_with_retry  # noqa: F401
