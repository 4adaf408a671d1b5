from graph import graph


def test_greets_by_name() -> None:
    assert graph.invoke({"name": "Ada"})["greeting"] == "Hello, Ada!"
