from graph import graph


def test_answers_with_the_tool_result() -> None:
    out = graph.invoke({"messages": [{"role": "user", "content": "What is the weather in Lisbon?"}]})
    tools = [m for m in out["messages"] if m.type == "tool"]
    assert tools and "Lisbon" in tools[0].content
    assert "Lisbon" in out["messages"][-1].content
