"""The package's imports flow down, and form no circle.

Read from the installed package's own files (CI tests the wheel), counting
imports inside functions as well as at module level. Floors, bottom to
top: what a floor's modules may import is its own package and the floors
below it.
"""

import ast
import os
import pathlib

import keras_electra

FLOORS = [
    {"version", "utils"},
    {"layers", "tokenizers", "optimizers", "metrics"},
    {"models", "data", "callbacks"},
    {"conversion"},
    {"jobs"},
    {"cli"},
    {""},  # the package root: the lazy public names
]
FLOOR = {name: i for i, names in enumerate(FLOORS) for name in names}
ROOT = pathlib.Path(keras_electra.__file__).resolve().parent


def _modules():
    """`{dotted module name: path}` of the package's Python files."""
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(["keras_electra", *parts])] = path
    return found


def _imports(path, modules):
    """The package modules `path` imports (anywhere in the file)."""
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            base = node.module or ""
            names = [
                f"{base}.{alias.name}"
                if f"{base}.{alias.name}" in modules
                else base
                for alias in node.names
            ]
        else:
            continue
        targets |= {n for n in names if n.split(".")[0] == "keras_electra"}
    return targets


def _package(module):
    """The top-level subpackage of a module ('' for the root)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _graph():
    modules = _modules()
    return {module: _imports(path, modules) for module, path in modules.items()}


def test_every_package_is_on_a_floor():
    packages = {_package(module) for module in _modules()}
    assert packages <= set(FLOOR), packages - set(FLOOR)


def test_no_module_imports_upward():
    upward = []
    for module, targets in _graph().items():
        for target in targets:
            here, there = _package(module), _package(target)
            if here == there:
                continue
            if FLOOR[there] >= FLOOR[here]:
                upward.append(f"{module} -> {target}")
    assert not upward, "\n".join(sorted(upward))


def test_no_import_circle():
    graph = _graph()
    # Depth-first search for a back edge, reporting the circle it closes.
    state, stack, circles = {}, [], []

    def visit(module):
        state[module] = "open"
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                circles.append(stack[stack.index(target) :] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert not circles, "\n".join(" -> ".join(c) for c in circles)


def test_the_test_sees_the_package():
    # A guard against a vacuous pass: the graph holds known edges.
    graph = _graph()
    assert len(graph) > 40
    assert (
        "keras_electra.layers.electra_masking"
        in graph["keras_electra.layers.electra_corruption"]
    )
    assert os.path.basename(str(ROOT)) == "keras_electra"
