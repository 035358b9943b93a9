"""The package's layers (LAYERING.md in the project's reference material; README "Where things go"):
no import cycle, lazy imports counted; imports inside functions only in the interface layer
(``cli/``, ``pipelines/``) plus a few justified ones; no module over 450 lines."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "generator" / "servespec"
INTERFACE = ("servespec.cli", "servespec.pipelines", "servespec.templates")
MAX_LAZY = 3
MAX_LINES = 450


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> list[tuple[str, int, bool]]:
    """(imported servespec module, line, inside a function) for every import in ``path``."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue  # never executed
            targets: list[str] = []
            if isinstance(child, ast.Import):
                targets = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parent = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*parent, *([child.module] if child.module else [])])
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in child.names]
            for target in targets:
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    found.append((target, child.lineno, in_function))
            visit(child, inner)

    visit(tree, False)
    return found


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    mods = _modules()
    known = set(mods)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    lazy: list[str] = []
    for name, path in mods.items():
        for target, _line, _inside in _imports(name, path, known):
            graph[name].add(target)
            # importing a submodule runs its package's __init__ first
            parent = target.rpartition(".")[0]
            while parent.startswith("servespec.") and parent != name and not name.startswith(parent + "."):
                graph[name].add(parent)
                parent = parent.rpartition(".")[0]
        lazy.extend(f"{path.relative_to(PACKAGE)}:{line}" for _t, line, f in _imports(name, path, known) if f)
    return graph, lazy


def _lazy_everywhere() -> list[str]:
    """Imports inside functions of any module (servespec's or a library's) outside the interface layer."""
    out = []
    for name, path in _modules().items():
        if name.startswith(INTERFACE):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        out.append(f"{path.relative_to(PACKAGE)}:{inner.lineno}")
    return sorted(set(out))


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = dfs(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = dfs(node)
            if found:
                return found
    return None


def test_no_import_cycle_counting_lazy_imports() -> None:
    graph, _ = _graph()
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_few_imports_inside_functions_outside_the_interface_layer() -> None:
    lazy = _lazy_everywhere()
    assert len(lazy) <= MAX_LAZY, lazy


def test_no_module_over_450_lines() -> None:
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long


def test_emitters_do_not_import_each_other() -> None:
    """Model and env emitters import only ``emit/context.py`` (and ``isvc/common.py`` within isvc)."""
    graph, _ = _graph()
    shared = {"servespec.emit", "servespec.emit.context", "servespec.emit.isvc", "servespec.emit.isvc.common"}
    for name, targets in graph.items():
        if name.startswith("servespec.emit.") and name not in shared:
            others = {t for t in targets if t.startswith("servespec.emit") and t not in shared}
            assert not others, (name, others)
