"""The package's shape: every module imports on its own and in any order, imports run one way between
the subpackages (the pipeline's order), no module imports another in a circle, and the scripts stay
entry points."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "kurdish_tts"
SCRIPTS = ("prepare_data", "train_vits", "train_feedback", "synthesize", "serve")
# The pipeline's order: a module may import from its own layer (without a cycle) and from layers before it.
LAYERS = [("files", "hub", "options"), ("text",), ("corpus",), ("vits",), ("synthesis",), ("scoring",),
          ("training",), ("feedback",), ("serving",), ("samples",)]
LAYER = {part: index for index, parts in enumerate(LAYERS) for part in parts}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(path: Path) -> set[str]:
    """Every module `path` imports, wherever the import stands (inside functions and under
    TYPE_CHECKING too): `from a.b import c` names a.b.c when that is a module, else a.b."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                names.add(candidate if candidate in MODULES else node.module)
    return names


GRAPH = {name: {other for other in imported(path) if other in MODULES and other != name}
         for name, path in MODULES.items()}


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    return LAYER.get(parts[1]) if len(parts) > 1 else None


def test_every_subpackage_sits_in_a_layer_and_says_what_it_holds():
    for path in PACKAGE.iterdir():
        if path.name.startswith(("_", ".")) or path.suffix not in (".py", ""):
            continue
        name = path.stem
        assert name in LAYER, f"kurdish_tts/{path.name} belongs to no layer of LAYERS"
        if path.is_dir():
            docstring = ast.get_docstring(ast.parse((path / "__init__.py").read_text(encoding="utf-8")))
            assert docstring and len(docstring) > 40, f"kurdish_tts/{name}/__init__.py says nothing of what it holds"


def test_imports_run_one_way_between_subpackages():
    backwards = [f"{module} imports {other}" for module, others in GRAPH.items() for other in others
                 if layer_of(module) is not None and layer_of(other) is not None and layer_of(other) > layer_of(module)]
    assert backwards == []


def test_no_import_cycles():
    """Tarjan's strongly connected components: any with more than one module is a cycle."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in GRAPH[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
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


def test_the_cycle_check_finds_a_cycle(monkeypatch):
    """The check above can fail: a planted back edge is found."""
    monkeypatch.setitem(GRAPH, "kurdish_tts.files", GRAPH["kurdish_tts.files"] | {"kurdish_tts.corpus.metadata"})
    with pytest.raises(AssertionError):
        test_no_import_cycles()


def test_the_package_imports_no_script():
    assert [m for m, path in MODULES.items() if imported(path) & set(SCRIPTS)] == []


@pytest.mark.parametrize("order", ["forward", "backward"])
def test_every_module_imports_in_any_order(order):
    names = sorted(MODULES) if order == "forward" else sorted(MODULES, reverse=True)
    code = f"import importlib\nfor name in {names!r}:\n    importlib.import_module(name)\n"
    result = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]


def test_scripts_are_short_entry_points():
    for script in SCRIPTS:
        source = (ROOT / f"{script}.py").read_text(encoding="utf-8")
        tree = ast.parse(source)
        assert any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body), script
        assert len(source.splitlines()) <= 320, f"{script}.py has {len(source.splitlines())} lines"


def test_nothing_edits_sys_path():
    """The package is installed (editable): no file finds it, or a neighbour, by editing sys.path."""
    offenders = [str(path.relative_to(ROOT)) for folder in ("kurdish_tts", "tests", "bench", "data")
                 for path in (ROOT / folder).rglob("*.py") if "sys.path.insert" in path.read_text(encoding="utf-8")
                 and path != Path(__file__)]
    offenders += [f"{script}.py" for script in SCRIPTS if "sys.path.insert" in (ROOT / f"{script}.py").read_text()]
    assert offenders == []
