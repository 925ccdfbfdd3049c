"""The package's structure: the rules in docs/architecture.md, checked on the source.

Imports are read with ``ast`` (module-level, function-level and ``TYPE_CHECKING`` ones
alike), so a cycle hidden behind a lazy import still counts.
"""

from __future__ import annotations

import ast
import io
import os
import subprocess
import sys
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "numbers_async"

#: The only modules that may import aiohttp: the transport, the webhook adapter and the
#: test-support package (the fake server is an aiohttp.web application).
AIOHTTP_ALLOWED = ("_transport.py", "webhooks/aiohttp.py", "testing/")
#: The one module allowed to be large: the fake server's request handlers.
LARGE_ALLOWED = {"testing/_fake.py"}
MAX_LINES = 550


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> Iterator[tuple[str, Path, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield _module_name(path), path, ast.parse(path.read_text(), str(path))


MODULES = {_module_name(path) for path in PACKAGE.rglob("*.py")}


def _imported(name: str, path: Path, tree: ast.Module) -> set[str]:
    """Every numbers_async module that ``tree`` imports, wherever the import stands.

    ``from numbers_async import _operations`` imports that submodule; only a name that is
    not a submodule (``from numbers_async import NumbersClient``) imports the package.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in MODULES else base)
    return {module for module in found if module.startswith("numbers_async")}


def _graph() -> dict[str, set[str]]:
    return {
        name: {module for module in _imported(name, path, tree) if module != name}
        for name, path, tree in _sources()
    }


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_package_has_no_import_cycle() -> None:
    graph = _graph()
    # Package __init__ modules re-export their children; an edge from a child back to its
    # own package's __init__ would be a cycle, and is one, so nothing is filtered.
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_sees_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize(
    ("name", "path"),
    [(name, path) for name, path, _ in _sources()],
    ids=[name for name, _, _ in _sources()],
)
def test_only_the_transport_webhooks_and_testing_import_aiohttp(name: str, path: Path) -> None:
    tree = ast.parse(path.read_text())
    imports_aiohttp = any(
        (
            isinstance(node, ast.Import)
            and any(a.name.split(".")[0] == "aiohttp" for a in node.names)
        )
        or (isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "aiohttp")
        for node in ast.walk(tree)
    )
    relative = path.relative_to(PACKAGE).as_posix()
    allowed = any(relative.startswith(prefix) for prefix in AIOHTTP_ALLOWED)
    assert allowed or not imports_aiohttp, f"{name} imports aiohttp"


def test_no_module_is_larger_than_the_limit() -> None:
    large = {
        path.relative_to(PACKAGE).as_posix(): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert set(large) <= LARGE_ALLOWED, large


#: The request pipeline's layers (docs/architecture.md), each kept small enough to read at once.
SENDER_LAYERS = ("_sender", "_settle", "_retrying", "_authflow", "_attempt", "_transport")
MAX_LAYER_CODE_LINES = 150


def _code_lines(source: str) -> int:
    """Lines holding code: not blank, not only a comment, not part of a docstring."""
    tree = ast.parse(source)
    docstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
                and first.end_lineno is not None
            ):
                docstrings.update(range(first.lineno, first.end_lineno + 1))
    skipped = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in skipped and token.type != tokenize.ENDMARKER:
            lines.update(range(token.start[0], token.end[0] + 1))
    return len(lines - docstrings)


def test_code_lines_count_code_only() -> None:
    source = (
        '"""Doc.\n\nMore."""\n\n# a comment\nx = (\n    1,\n)\n\n'
        'def f():\n    """Doc."""\n    return x  # why\n'
    )
    assert _code_lines(source) == 5  # x = ( / 1, / ) / def f(): / return x


@pytest.mark.parametrize("layer", SENDER_LAYERS)
def test_no_sender_layer_is_over_the_layer_limit(layer: str) -> None:
    lines = _code_lines((PACKAGE / f"{layer}.py").read_text())
    assert lines <= MAX_LAYER_CODE_LINES, f"{layer}: {lines} lines of code"


def test_the_retry_module_is_a_leaf() -> None:
    path = PACKAGE / "_retry.py"
    imported = _imported("numbers_async._retry", path, ast.parse(path.read_text()))
    assert imported <= {"numbers_async.errors"} | {
        m for m in imported if m.startswith("numbers_async.errors.")
    }


#: The request pipeline and the client: bulk jobs see none of it, only ``BulkClient``.
PIPELINE = {
    "numbers_async._client",
    "numbers_async._sender",
    "numbers_async._settle",
    "numbers_async._retrying",
    "numbers_async._authflow",
    "numbers_async._attempt",
    "numbers_async._call",
    "numbers_async._transport",
}


def _private_reads_of_the_client(tree: ast.Module) -> list[str]:
    """``client._x``, ``self._client._x``, ``getattr(client, "_x")``: reads behind the protocol."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            owner = node.value
            name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
            if name in ("client", "_client"):
                found.append(f"{name}.{node.attr}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and str(node.args[1].value).startswith("_")
        ):
            found.append(f"getattr(..., {node.args[1].value!r})")
    return found


@pytest.mark.parametrize(
    "path", sorted((PACKAGE / "bulk").glob("*.py")), ids=lambda path: path.name
)
def test_bulk_reaches_the_client_only_through_its_protocol(path: Path) -> None:
    tree = ast.parse(path.read_text())
    name = _module_name(path)
    assert _imported(name, path, tree) & PIPELINE == set()
    assert _private_reads_of_the_client(tree) == []


def test_the_private_read_finder_sees_one() -> None:
    tree = ast.parse("a = client._options\nb = getattr(self.client, '_options', None)\n")
    assert _private_reads_of_the_client(tree) == ["client._options", "getattr(..., '_options')"]


def _runtime_imports(tree: ast.Module) -> Iterator[str]:
    """Every module name ``tree`` imports outside ``if TYPE_CHECKING:`` blocks."""

    def visit(node: ast.AST) -> Iterator[str]:
        if isinstance(node, ast.If) and ast.unparse(node.test) in (
            "TYPE_CHECKING",
            "typing.TYPE_CHECKING",
        ):
            yield from (name for child in node.orelse for name in visit(child))
            return
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            yield node.module or ""
        for child in ast.iter_child_nodes(node):
            yield from visit(child)

    yield from visit(tree)


#: The one module that imports OpenTelemetry (the ``otel`` extra), and the one that
#: imports it, when the extra is installed and a client traces.
OTEL_MODULE = "numbers_async._otel"
OTEL_LOADER = "numbers_async._observe"


@pytest.mark.parametrize(
    ("name", "path"),
    [(name, path) for name, path, _ in _sources()],
    ids=[name for name, _, _ in _sources()],
)
def test_only_the_otel_module_imports_opentelemetry(name: str, path: Path) -> None:
    imported = set(_runtime_imports(ast.parse(path.read_text())))
    if name != OTEL_MODULE:
        assert not any(module.split(".")[0] == "opentelemetry" for module in imported), name
    if name != OTEL_LOADER:
        assert OTEL_MODULE not in imported, f"{name} imports {OTEL_MODULE}"


def test_the_runtime_import_finder_skips_type_checking_blocks() -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "import a\n"
        "if TYPE_CHECKING:\n    import b\nelse:\n    import c\n"
        "def f():\n    from d import e\n"
    )
    assert list(_runtime_imports(tree)) == ["typing", "a", "c", "d"]


#: What ``import numbers_async`` must not import: each is for some programs only and is
#: imported when first used (benchmark B7 times the import; OpenTelemetry has its own test
#: in tests/test_otel.py). A module here and its submodules.
NOT_IMPORTED_WITH_THE_PACKAGE = (
    "numbers_async._addresses",  # the emergency-address models
    "numbers_async._generic",  # client.request
    "numbers_async.bulk",
    "numbers_async.cli",
    "numbers_async.redis",
    "numbers_async.testing",
    "numbers_async.webhooks",
    "aiohttp.web",  # the fake server's
    "redis",
)


def test_importing_the_package_imports_only_what_every_program_needs() -> None:
    code = "import sys, numbers_async\nprint(' '.join(sorted(sys.modules)))"
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PACKAGE.parent)},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.split())
    assert "numbers_async._client" in loaded  # the package, from this checkout
    imported = {
        name
        for name in loaded
        for module in NOT_IMPORTED_WITH_THE_PACKAGE
        if name == module or name.startswith(f"{module}.")
    }
    assert sorted(imported) == []
