"""The package's imports flow one way (training <- hls <- cli) and never in a circle, imports inside
functions included: a cycle that works only because one import waits inside a function is still a cycle."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"training": "mrfpga.training", "hls": "mrfpga.hls", "cli": "mrfpga.cli"}
LAYER = {"mrfpga.training": 0, "mrfpga.hls": 1, "mrfpga.cli": 2}


def _modules():
    """{module name: path} of the kit's Python code, from its folders."""
    modules = {}
    for folder, package in PACKAGES.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join((package, *parts))] = path
    return modules


def _imports(name, path, modules):
    """The kit modules ``name`` imports, anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # "from package import module" imports the module; any other name comes from the package itself.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # a name inside a module: the module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


MODULES = _modules()
GRAPH = {name: _imports(name, path, MODULES) for name, path in MODULES.items()}


def _layer(module):
    return next(rank for package, rank in LAYER.items() if module == package or module.startswith(package + "."))


def test_the_graph_sees_the_package():
    assert len(GRAPH) > 60
    assert "mrfpga.hls.layers.mmac" in GRAPH["mrfpga.hls.layers.registry"]


@pytest.mark.parametrize("lower", ["mrfpga.training", "mrfpga.hls"])
def test_imports_never_run_up_the_layers(lower):
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        if _layer(module) == LAYER[lower]
        for target in targets
        if _layer(target) > LAYER[lower]
    )
    assert upward == []


def test_no_import_cycle():
    """Tarjan's strongly connected components: every one has a single module."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in GRAPH:
        if node not in index:
            visit(node)
    assert cycles == []
