"""Compile-time validation of a StateGraph definition (raises InvalidGraphError with a clear message)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from engine.core.errors import InvalidGraphError
from engine.core.types import END, START

if TYPE_CHECKING:
    from engine.core.graph import StateGraph


def _targets(builder: StateGraph) -> dict[str, set[str]]:
    """Every node a source may hand control to (static, join, conditional, declared Command ends)."""
    out: dict[str, set[str]] = {}
    for start, end in builder.edges:
        out.setdefault(start, set()).add(end)
    for starts, end in builder.waiting_edges:
        for start in starts:
            out.setdefault(start, set()).add(end)
    for source, branches in builder.branches.items():
        for branch in branches.values():
            if branch.path_map is not None:
                out.setdefault(source, set()).update(branch.path_map.values())
            else:  # unknown router: may go anywhere
                out.setdefault(source, set()).update([*builder.nodes, END])
    for name, nd in builder.nodes.items():
        if nd.ends:
            out.setdefault(name, set()).update(nd.ends)
    return out


def validate_graph(
    builder: StateGraph,
    interrupt_before: Sequence[str] | str | None,
    interrupt_after: Sequence[str] | str | None,
) -> None:
    nodes = builder.nodes
    sources = {s for s, _ in builder.edges} | {s for starts, _ in builder.waiting_edges for s in starts}
    sources |= set(builder.branches)
    for source in sorted(sources):
        if source not in nodes and source != START:
            raise InvalidGraphError(f"Found edge starting at unknown node '{source}'")
    if START not in sources:
        raise InvalidGraphError("Graph must have an entrypoint: add at least one edge from START to another node")
    for source, branches in builder.branches.items():
        for cond, branch in branches.items():
            for end in (branch.path_map or {}).values():
                if end not in nodes and end != END:
                    raise InvalidGraphError(f"At '{source}' node, '{cond}' branch found unknown target '{end}'")
    for _, end in builder.edges:
        if end not in nodes and end != END:
            raise InvalidGraphError(f"Found edge ending at unknown node `{end}`")
    for name, nd in nodes.items():
        for end in nd.ends:
            if end not in nodes and end != END:
                raise InvalidGraphError(f"Node `{name}` declares unknown destination `{end}`")
    for which, spec in (("interrupt_before", interrupt_before), ("interrupt_after", interrupt_after)):
        if spec is None or spec == "*":
            continue
        if isinstance(spec, str):
            raise InvalidGraphError(f"{which} must be a list of node names or '*'")
        for node in spec:
            if node not in nodes:
                raise InvalidGraphError(f"Interrupt node `{node}` not found")
    if not interrupt_before and not interrupt_after:
        _check_can_finish(builder)


def _may_pause(action: Any) -> bool:
    """A node that can stop the run on purpose: a subgraph, or code that calls interrupt()."""
    from engine.core.compiled import CompiledGraph

    if isinstance(action, CompiledGraph):
        return True
    code = getattr(getattr(action, "__call__", action), "__code__", None) or getattr(action, "__code__", None)  # noqa: B004
    stack = [code] if code is not None else []
    while stack:
        current = stack.pop()
        if "interrupt" in current.co_names or "interrupt" in current.co_freevars:
            return True
        stack.extend(c for c in current.co_consts if hasattr(c, "co_names"))
    return code is None  # unknown callables get the benefit of the doubt


def _check_can_finish(builder: StateGraph) -> None:
    """END is unreachable when every node reachable from START has a static edge to another node:
    static edges always fire, so such a run can never run out of tasks. Loops that pause on
    purpose (a node calling interrupt(), a subgraph, static breakpoints) are allowed, as in a
    human-in-the-loop chat that never ends."""
    static_next: dict[str, set[str]] = {}
    for start, end in builder.edges:
        if end != END:
            static_next.setdefault(start, set()).add(end)
    targets = _targets(builder)
    seen: set[str] = set()
    stack = [START]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        if current == END:
            return
        if current != START and (not static_next.get(current) or _may_pause(builder.nodes[current].action)):
            return  # a node after which nothing is forced to run (or that pauses): the run may stop here
        stack.extend(t for t in targets.get(current, ()) if t not in seen)
    raise InvalidGraphError("END is unreachable: every path from START loops through static edges forever")
