"""The dependency rule of docs/architecture.md, read from the code's own imports (ast).

- The engine (`pipeline/`) never imports `stages` except at its two registration entry points:
  the CLI (pipeline/cli/__init__.py) and the worker's main (pipeline/run/worker.py).
- No two files import each other, directly or through a longer circle (lazy imports inside
  functions count: a circle is a circle whether or not Python happens to tolerate it). A
  string that names one of our modules exactly ("pipeline.cli.run" in the CLI's COMMANDS,
  "pipeline.partition.runtime" in the runtime-module list, "pkg.module:function" handed to a
  child process) counts as an import by the file that writes it: importlib imports it from
  there or on its behalf, so a cycle cannot slip in through a table of names.
- Stage modules never import each other: a module under stages/ imports only the engine; the
  one exception is stages/__init__.py, the list that registers them.
- `pipeline/` keeps few top-level modules, and every subpackage says in its first line what it owns.
"""
from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[2]
ENTRY_POINTS = {"pipeline/cli/__init__.py", "pipeline/run/worker.py"}
MAX_TOP_LEVEL_MODULES = 12


def _sources() -> dict[str, Path]:
    """module name -> file, for every module of pipeline/ and stages/."""
    found = {}
    for top in ("pipeline", "stages"):
        for path in (ROOT / top).rglob("*.py"):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            found[".".join(parts)] = path
    return found


def named_modules(tree: ast.AST, known) -> set[str]:
    """Modules of ours that a string constant names exactly: "a.b.c" or "a.b.c:attr" (dotted
    only: a bare "pipeline" or "stages" is a word, the program's name or a YAML key)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            module = node.value.split(":", 1)[0] if node.value.count(":") == 1 else node.value
            if "." in module and module in known:
                found.add(module)
    return found


def _imported_modules(path: Path, known: dict[str, Path]) -> set[str]:
    """Every module of ours that `path` imports or names, resolved to the longest known module name."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = named_modules(tree, known)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    resolved = set()
    for name in names:
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            candidate = ".".join(parts[:end])
            if candidate in known:
                resolved.add(candidate)
                break
    return resolved


def _import_graph() -> nx.DiGraph:
    known = _sources()
    graph = nx.DiGraph()
    for module, path in known.items():
        graph.add_node(module, path=str(path.relative_to(ROOT)))
        for target in _imported_modules(path, known):
            if target != module:
                graph.add_edge(module, target)
    return graph


def _package_edges_only(graph: nx.DiGraph) -> nx.DiGraph:
    """Drop edges from a module to its own enclosing packages: importing `a.b.c` runs
    `a/b/__init__`, which is how Python works, not a dependency the author wrote. A package's
    `__init__` importing its own modules (registration lists) is kept: that edge is written."""
    kept = nx.DiGraph()
    kept.add_nodes_from(graph.nodes(data=True))
    for src, dst in graph.edges:
        if not src.startswith(dst + "."):
            kept.add_edge(src, dst)
    return kept


def back_edges(graph: nx.DiGraph) -> list[str]:
    """Engine files that import a stage, other than the registration entry points."""
    return sorted(graph.nodes[src]["path"] for src, dst in graph.edges
                  if src.split(".")[0] == "pipeline" and dst.split(".")[0] == "stages"
                  and graph.nodes[src]["path"] not in ENTRY_POINTS)


def stage_to_stage_edges(graph: nx.DiGraph) -> list[str]:
    """Stage modules importing another stage module (stages/__init__.py, the registration list, may)."""
    return sorted(f"{graph.nodes[src]['path']} -> {graph.nodes[dst]['path']}" for src, dst in graph.edges
                  if src.split(".")[0] == "stages" and dst.split(".")[0] == "stages" and src != "stages")


def file_cycles(graph: nx.DiGraph) -> list[list[str]]:
    graph = _package_edges_only(graph)
    return [sorted(graph.nodes[n]["path"] for n in c) for c in nx.strongly_connected_components(graph) if len(c) > 1]


def test_the_engine_imports_stages_only_at_its_registration_entry_points():
    assert back_edges(_import_graph()) == []


def test_the_entry_points_do_register_the_stages():
    graph = _import_graph()
    for path in ENTRY_POINTS:
        module = path[:-3].replace("/", ".").removesuffix(".__init__")
        assert "stages" in graph.successors(module), f"{path} should import stages"


def test_no_import_cycles_between_files():
    assert file_cycles(_import_graph()) == []


def test_stage_modules_do_not_import_each_other():
    assert stage_to_stage_edges(_package_edges_only(_import_graph())) == []


def test_modules_named_in_strings_are_edges():
    """The tables importlib reads are seen: the CLI's COMMANDS, the runtime-module list, a child's callee."""
    graph = _import_graph()
    assert graph.has_edge("pipeline.cli", "pipeline.cli.run")
    assert graph.has_edge("pipeline.model.runtime_modules", "pipeline.partition.runtime")
    assert graph.has_edge("pipeline.targets.elastic_inference", "pipeline.accelerator.subgraph_engine")
    known = _sources()
    tree = ast.parse('COMMANDS = {"run": "pipeline.cli.run"}\nCALL = "stages.deploy:run"\nWORD = "pipeline"\n'
                     'TEXT = "see pipeline.cli.run for more"')
    assert named_modules(tree, known) == {"pipeline.cli.run", "stages.deploy"}


def test_pipeline_top_level_stays_small_and_subpackages_say_what_they_own():
    top = sorted(p.name for p in (ROOT / "pipeline").glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top
    for init in sorted((ROOT / "pipeline").rglob("__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and doc.strip(), f"{init.relative_to(ROOT)} has no docstring saying what the package owns"


def test_the_checks_catch_a_back_edge_and_a_cycle():
    """The checker itself, on a made-up graph: an engine file importing a stage, and a circle."""
    graph = nx.DiGraph()
    for module, path in [("pipeline.a", "pipeline/a.py"), ("pipeline.b", "pipeline/b.py"),
                         ("stages.s", "stages/s.py"), ("pipeline.run.worker", "pipeline/run/worker.py")]:
        graph.add_node(module, path=path)
    graph.add_edges_from([("pipeline.a", "stages.s"), ("pipeline.run.worker", "stages.s"),
                          ("pipeline.a", "pipeline.b"), ("pipeline.b", "pipeline.a")])
    assert back_edges(graph) == ["pipeline/a.py"]
    assert file_cycles(graph) == [["pipeline/a.py", "pipeline/b.py"]]
    graph.add_node("stages", path="stages/__init__.py")
    graph.add_node("stages.t", path="stages/t.py")
    graph.add_edges_from([("stages", "stages.s"), ("stages.t", "stages.s")])
    assert stage_to_stage_edges(graph) == ["stages/t.py -> stages/s.py"]
