"""chit's modules in layers, read from their source: no import cycle (imports inside
functions and for type checking count), each layer imports only the layers below it, and
no module is over 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent / "chit"
MAX_LINES = 400

#: The bottom layer: the usage record, its pricing, messages, the state, the errors.
BOTTOM = {
    "chit",
    "chit.usage",
    "chit.pricing",
    "chit.messages",
    "chit.state",
    "chit.errors",
    "chit.later",
    "chit.credentials",
    "chit.signals",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def imports(name: str) -> set[str]:
    """The chit modules ``name`` imports anywhere in its source."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                # `from chit.x import y` imports the module chit.x.y if there is one.
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imports(name) for name in MODULES}


def layer(name: str) -> str:
    if name in BOTTOM:
        return "bottom"
    if name == "chit.__main__":  # `python -m chit`: the command line
        return "cli"
    return name.split(".")[1]  # providers, checkpoint, agent, telemetry, cli


#: What each layer may import besides itself.
ALLOWED = {
    "bottom": {"bottom"},
    "providers": {"bottom"},
    "checkpoint": {"bottom"},
    "agent": {"bottom", "providers", "checkpoint"},
    # Telemetry watches the agent's events; the front ends switch it on.
    "telemetry": {"bottom", "agent"},
    "cli": {"bottom", "providers", "checkpoint", "agent", "telemetry"},
}


def test_the_graph_is_read() -> None:
    # The parse sees what it must: imports at the top and inside functions.
    assert "chit.checkpoint.reader" in GRAPH["chit.checkpoint.loaded"]
    assert "chit.cli.printmode" in GRAPH["chit.cli.main"]  # imported inside run()
    assert len(MODULES) > 25


def test_no_import_cycle() -> None:
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        for other in sorted(GRAPH[name]):
            visit(other, [*path, name])
        done.add(name)

    for name in sorted(GRAPH):
        visit(name, [])


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_layer_imports_only_the_layers_below(name: str) -> None:
    own = layer(name)
    wrong = sorted(m for m in GRAPH[name] if layer(m) != own and layer(m) not in ALLOWED[own])
    assert not wrong, f"{name} ({own}) imports {wrong}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_over_400_lines(name: str) -> None:
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines"
