"""The package's shape: imports run one way (no cycle among its modules, imports inside functions counted), and
library code raises exceptions rather than ending the process (only ``run.cli.run``, the commands' entry, exits)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "tinyalstm"


def _modules():
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def import_graph():
    """{module: set of tinyalstm modules it imports anywhere in its file}."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package
                for _ in range(max(node.level - 1, 0)):
                    base = base.rsplit(".", 1)[0]
                source = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
                for alias in node.names:
                    full = f"{source}.{alias.name}"
                    targets.add(full if full in modules else source)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_the_package_modules():
    graph = import_graph()
    assert {"tinyalstm.experiment.training", "tinyalstm.experiment.evaluation",
            "tinyalstm.experiment.parts"} <= set(graph)
    assert "tinyalstm.experiment.parts" in graph["tinyalstm.experiment.evaluation"]   # the graph sees relative imports
    assert cycles(graph) == []


def package_graph(graph):
    """The module graph collapsed to the units a reader sees: each subpackage of tinyalstm (``data``, ``models``,
    ...) and each top-level module."""
    unit = lambda m: ".".join(m.split(".")[:2])  # noqa: E731 -- tinyalstm.data.video -> tinyalstm.data
    packages = {}
    for module, targets in graph.items():
        packages.setdefault(unit(module), set()).update(unit(t) for t in targets if unit(t) != unit(module))
    return packages


def test_no_import_cycle_among_the_packages():
    """Layers -> models -> data -> experiment -> commands, with no way back: a package never imports one that
    imports it, even through other modules."""
    packages = package_graph(import_graph())
    assert "tinyalstm.models" in packages["tinyalstm.data"]                            # the pipeline's encoders
    assert cycles(packages) == []


def test_library_code_does_not_end_the_process():
    offenders = []
    for name, path in _modules().items():
        if name == "tinyalstm.run.cli":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and node.exc is not None:
                exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if isinstance(exc, ast.Name) and exc.id == "SystemExit":
                    offenders.append(f"{name}:{node.lineno} raise SystemExit")
            if isinstance(node, ast.ClassDef) and any(isinstance(b, ast.Name) and b.id == "SystemExit"
                                                      for b in node.bases):
                offenders.append(f"{name}:{node.lineno} class {node.name}(SystemExit)")
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "exit"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "sys"):
                offenders.append(f"{name}:{node.lineno} sys.exit")
    assert offenders == []
