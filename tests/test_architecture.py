"""The package's shape: no import cycles, the CLI and the stages at the top, the core below."""

from __future__ import annotations

import networkx as nx

from tests._imports import import_graph

TOP = ("churn.cli", "churn.stages")
"""The only modules that may import a stage: a stage is wiring, never a library."""


def _graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for module, deps in import_graph().items():
        graph.add_node(module)
        graph.add_edges_from((module, dep) for dep in deps)
    return graph


def test_no_import_cycles() -> None:
    cycles = sorted(sorted(c) for c in nx.simple_cycles(_graph()))
    assert not cycles, "import cycles (move the code both sides share down a level): " + "; ".join(
        " -> ".join(c) for c in cycles
    )


def test_only_the_cli_and_stages_import_stages() -> None:
    offenders = {
        module: sorted(d for d in deps if d.startswith("churn.stages"))
        for module, deps in import_graph().items()
        if not module.startswith(TOP)
    }
    offenders = {m: s for m, s in offenders.items() if s}
    assert not offenders, f"the core imports stages (move the shared code out): {offenders}"


def test_nothing_imports_the_cli() -> None:
    assert not sorted(m for m, deps in import_graph().items() if "churn.cli" in deps)


def test_the_graph_follows_imports_inside_functions() -> None:
    # churn.engines imports the Spark runner only when asked for it, inside sql_runner
    assert "churn.engines.spark" in import_graph()["churn.engines"]
    graph = _graph()
    graph.add_edge("churn.engines.spark", "churn.engines")
    assert list(nx.simple_cycles(graph)), "a planted cycle must be found"
