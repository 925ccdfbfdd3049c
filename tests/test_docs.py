"""Every code block in docs/ and the README runs, the site's generators work, and every
public name has a docstring.

How code blocks are run (the convention documented in docs/contributing-docs.md):

- A ```python block is a complete program. It is saved as ``example.py`` in a scratch
  directory and run there with ``python -W error example.py``, with ``SINCH_PROJECT_ID``,
  ``SINCH_KEY_ID``, ``SINCH_KEY_SECRET``, ``SINCH_NUMBERS_URL`` and ``SINCH_AUTH_URL``
  pointing at a fresh ``FakeNumbersServer``, so ``NumbersClient.from_env()`` programs run
  as pasted.
- An HTML comment right before a block changes that:

  - ``<!-- docs-test: continues -->``: the block continues the page's previous program
    (they run once, together).
  - ``<!-- docs-test: file NAME -->``: the block (any language) is a file the reader
    saves as NAME; it is written to the scratch directory of every later block on the
    page, which may import or read it. A file block named like a file in ``examples/``
    must be that file (its module docstring aside), which ``tests/test_examples.py`` runs.
  - ``<!-- docs-test: pytest -->``: the block is a test module; it is saved as
    ``test_example.py`` and run with ``python -m pytest`` in the scratch directory, with
    the page's earlier file blocks (such as the ``pyproject.toml`` that sets
    ``asyncio_mode``) next to it.

Blocks in other languages (console, text, toml) are not run unless they are file blocks.
A program that reads ``REDIS_URL`` gets a fresh ``redis-server`` there.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import logging
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import griffe
import pytest

from numbers_async import errors
from numbers_async.cli import build_parser
from numbers_async.testing import FakeNumbersServer
from tests.conftest import RedisServer, redis_binary

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]

_BLOCK = re.compile(
    r"(?:<!-- docs-test: (?P<marker>[^>]*?) -->\n)?^```(?P<lang>[\w+-]*)[^\n]*\n(?P<code>.*?)^```",
    flags=re.M | re.S,
)


@dataclass
class Program:
    """One runnable unit: a program, or a pytest module, and the files saved before it."""

    page: Path
    line: int
    kind: str  # "program" or "pytest"
    code: str
    files: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def programs(page: Path) -> list[Program]:
    """The page's runnable units, in order (continuations folded into their program)."""
    text = page.read_text()
    found: list[Program] = []
    files: dict[str, str] = {}
    for match in _BLOCK.finditer(text):
        marker = (match["marker"] or "").strip()
        lang, code = match["lang"], match["code"]
        line = text.count("\n", 0, match.start("code"))
        if marker.startswith("file "):
            files[marker.removeprefix("file ").strip()] = code
        elif marker == "continues":
            assert found, f"{page}:{line}: 'continues' with no program before it"
            found[-1].code += "\n" + code
        elif marker == "pytest":
            found.append(Program(page, line, "pytest", code, dict(files)))
        elif marker:
            raise AssertionError(f"{page}:{line}: unknown docs-test marker {marker!r}")
        elif lang == "python":
            found.append(Program(page, line, "program", code, dict(files)))
    return found


def file_blocks(page: Path) -> dict[str, str]:
    text = page.read_text()
    return {
        m["marker"].removeprefix("file ").strip(): m["code"]
        for m in _BLOCK.finditer(text)
        if (m["marker"] or "").startswith("file ")
    }


ALL = [program for page in PAGES for program in programs(page)]


def test_every_page_with_python_has_runnable_blocks() -> None:
    # A regex that silently matched nothing would make every other test here vacuous.
    pages = {p.page for p in ALL}
    assert ROOT / "README.md" in pages
    assert len(ALL) >= 20


async def _run(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


@pytest.fixture
def redis_for(request: pytest.FixtureRequest) -> Callable[[Program], str | None]:
    """A fresh ``redis-server`` for a program that reads ``REDIS_URL`` (its URL), else None."""

    def start(program: Program) -> str | None:
        if "REDIS_URL" not in program.code:
            return None
        server = RedisServer(redis_binary())
        server.start()
        request.addfinalizer(server.close)
        return server.url

    return start


@pytest.mark.parametrize("program", ALL, ids=[p.id for p in ALL])
async def test_code_block_runs(
    program: Program, tmp_path: Path, redis_for: Callable[[Program], str | None]
) -> None:
    for name, content in program.files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    redis_url = redis_for(program)
    async with FakeNumbersServer() as fake:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("SINCH_", "PYTEST_"))
        }
        env.update(
            SINCH_PROJECT_ID=fake.project_id,
            SINCH_KEY_ID=fake.key_id,
            SINCH_KEY_SECRET=fake.key_secret,
            SINCH_NUMBERS_URL=fake.url,
            SINCH_AUTH_URL=fake.auth_url,
            PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]),
        )
        if redis_url is not None:
            env["REDIS_URL"] = redis_url
        if program.kind == "pytest":
            (tmp_path / "test_example.py").write_text(program.code)
            args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
            args += ["-W", "error", "test_example.py"]
        else:
            (tmp_path / "example.py").write_text(program.code)
            args = [sys.executable, "-W", "error", "example.py"]
        code, output = await _run(args, tmp_path, env)
    assert code == 0, f"{program.id}\n{output}"


def _example_code(source: str) -> str:
    """An example file as a page shows it: without its module docstring and future import."""
    module = griffe.visit("example", Path("example.py"), source)
    lines = source.splitlines()
    if module.docstring is not None and module.docstring.endlineno is not None:
        lines = lines[module.docstring.endlineno :]
    code = "\n".join(line for line in lines if line != "from __future__ import annotations")
    return code.strip("\n") + "\n"


@pytest.mark.parametrize(
    ("page", "name"),
    [
        (page, name)
        for page in PAGES
        for name in file_blocks(page)
        if (ROOT / "examples" / name).exists()
    ],
)
def test_example_file_blocks_are_the_tested_examples(page: Path, name: str) -> None:
    example = (ROOT / "examples" / name).read_text()
    assert _example_code(file_blocks(page)[name]) == _example_code(example)


def test_the_readme_pytest_example_sets_the_asyncio_mode() -> None:
    files = file_blocks(ROOT / "README.md")
    assert 'asyncio_mode = "auto"' in files["pyproject.toml"]
    assert any(p.kind == "pytest" and p.page.name == "README.md" for p in ALL)


# -- the command-line reference -------------------------------------------------------------


def _cli_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_gen_cli", DOCS / "_gen_cli.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cli_reference_has_a_section_per_subcommand() -> None:
    rendered: str = _cli_generator().render(build_parser())
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert commands.choices
    for name in commands.choices:
        assert f"## `{name}` {{#{name}}}" in rendered


def test_the_cli_reference_lists_each_option_with_its_help() -> None:
    rendered: str = _cli_generator().render(build_parser())
    assert "`--journal PATH` | record each outcome; rerun with it to resume" in rendered


def test_each_subcommand_section_lists_its_own_options() -> None:
    parser = build_parser()
    rendered: str = _cli_generator().render(parser)
    shared = {(a.dest, *a.option_strings) for a in parser._actions}
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, sub in commands.choices.items():
        section = rendered.split(f"## `{name}` {{#{name}}}")[1].split("\n## ")[0]
        formatter = sub.formatter_class(prog=sub.prog)
        for action in sub._actions:
            if action.help == "==SUPPRESS==" or action.dest == "help":
                continue
            if (action.dest, *action.option_strings) not in shared:
                assert f"`{formatter._format_action_invocation(action)}`" in section, (name, action)


def test_the_cli_page_is_generated_not_written() -> None:
    page = (DOCS / "cli.md").read_text()
    assert _cli_generator().MARKER in page
    assert "| argument |" not in page  # no hand-written option tables
    assert "## `" not in page  # no hand-written command sections


# -- docstrings -----------------------------------------------------------------------------

PUBLIC_MODULES = [
    "numbers_async",
    "numbers_async.models",
    "numbers_async.errors",
    "numbers_async.bulk",
    "numbers_async.redis",
    "numbers_async.webhooks",
    "numbers_async.webhooks.aiohttp",
    "numbers_async.webhooks.fastapi",
    "numbers_async.testing",
    "numbers_async.testing.pytest_plugin",
]


def _documented_attributes(cls: griffe.Class) -> set[str]:
    """Names a class documents in its docstring's ``Attributes:`` section."""
    if cls.docstring is None:
        return set()
    names: set[str] = set()
    for section in cls.docstring.parse("google"):
        if section.kind is griffe.DocstringSectionKind.attributes:
            names |= {attribute.name for attribute in section.value}
    return names


def public_names() -> dict[str, bool]:
    """Every public name and public member, by its defining path: whether it is documented.

    A class attribute counts as documented by its own docstring or by an entry in its
    class's ``Attributes:`` section (both are what the API reference shows).
    """
    logging.getLogger("griffe").setLevel(logging.ERROR)  # docstring-style notes, not ours
    package = griffe.load(
        "numbers_async", search_paths=[str(ROOT)], resolve_aliases=True, resolve_external=False
    )
    seen: dict[str, bool] = {}

    def visit(obj: griffe.Object | griffe.Alias, listed: bool = False) -> None:
        target = obj.final_target if isinstance(obj, griffe.Alias) else obj
        if seen.get(target.path):
            return
        seen[target.path] = listed or bool(target.docstring and target.docstring.value.strip())
        if isinstance(target, griffe.Class):
            documented = _documented_attributes(target)
            for name, member in target.members.items():
                if not name.startswith("_"):
                    visit(member, listed=name in documented)

    for path in PUBLIC_MODULES:
        module = (
            package if path == "numbers_async" else package[path.removeprefix("numbers_async.")]
        )
        assert isinstance(module, griffe.Module)
        seen[module.path] = bool(module.docstring)
        exports = module.exports or [n for n in module.members if not n.startswith("_")]
        for name in exports:
            visit(module[name if isinstance(name, str) else name.name])
    return seen


def test_every_public_name_has_a_docstring() -> None:
    names = public_names()
    missing = {path for path, documented in names.items() if not documented}
    assert len(names) > 300
    assert sorted(missing) == []


def test_every_model_field_has_a_docstring() -> None:
    names = public_names()
    fields = {p: d for p, d in names.items() if p.startswith("numbers_async.models.")}
    assert len(fields) > 60
    assert [p for p, d in fields.items() if not d] == []


# -- the API reference ----------------------------------------------------------------------


def _reference_identifiers() -> set[str]:
    return {
        match
        for page in (DOCS / "reference").glob("*.md")
        for match in re.findall(r"^::: ([\w.]+)", page.read_text(), flags=re.M)
    }


def _exports(module: str) -> list[str]:
    imported = importlib.import_module(module)
    names = getattr(imported, "__all__", None)
    if names is None:
        names = [n for n in vars(imported) if not n.startswith("_")]
    return [n for n in names if n != "__version__"]


def _homes(module: str, name: str) -> list[str]:
    """Every public module exporting the very object ``module.name`` is (re-exports)."""
    value = getattr(importlib.import_module(module), name)
    return [
        home
        for home in PUBLIC_MODULES
        if name in _exports(home) and getattr(importlib.import_module(home), name) is value
    ]


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_every_public_name_is_on_a_reference_page(module: str) -> None:
    # A name is shown when its module, or any public module that re-exports the same
    # object, is rendered whole or names it.
    shown = _reference_identifiers()
    missing = [
        name
        for name in _exports(module)
        if not any(home in shown or f"{home}.{name}" in shown for home in _homes(module, name))
    ]
    assert missing == []


# -- references from the code into the docs -------------------------------------------------

CODE_DIRS = ["numbers_async", "tests", "benchmarks", "examples"]
_DOC_LINK = re.compile(r"docs/(?P<page>[\w/-]+\.md)(?:#(?P<anchor>[\w-]+))?")


def _code_files() -> list[Path]:
    return [
        path
        for directory in CODE_DIRS
        for path in sorted((ROOT / directory).rglob("*"))
        if path.suffix in {".py", ".md"} and path.is_file()
    ]


def _anchors(page: Path) -> set[str]:
    """The ids of a page's headings, as mkdocs' table of contents makes them."""
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", page.read_text(), flags=re.M):
        explicit = re.search(r"\{#([\w-]+)\}\s*$", heading)
        if explicit:
            anchors.add(explicit[1])
            continue
        text = re.sub(r"[^\w\s-]", "", heading).strip().lower()
        anchors.add(re.sub(r"[-\s]+", "-", text))
    return anchors


def test_no_code_comment_cites_documents_outside_the_repository() -> None:
    this_file = Path(__file__)
    cited = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _code_files()
        if path != this_file
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if re.search(r"DESIGN( §|\.md)|API_NOTES|STYLE\.md", line)
    ]
    assert cited == []


def test_every_docs_link_in_the_code_resolves() -> None:
    links = [
        (path, match) for path in _code_files() for match in _DOC_LINK.finditer(path.read_text())
    ]
    assert len(links) >= 20
    broken = [
        f"{path.relative_to(ROOT)}: {match[0]}"
        for path, match in links
        if not (DOCS / match["page"]).is_file()
        or (match["anchor"] and match["anchor"] not in _anchors(DOCS / match["page"]))
    ]
    assert broken == []


# -- the architecture page ------------------------------------------------------------------


def _module_names() -> list[str]:
    """Every module of the package as the module map names it: ``_client``, ``bulk._job``."""
    package = ROOT / "numbers_async"
    names = []
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts) or "numbers_async")
    return names


def test_the_module_map_has_a_line_for_every_module() -> None:
    page = (DOCS / "architecture.md").read_text()
    listed = set(re.findall(r"^\| `([\w.]+)` \|", page, flags=re.M))
    modules = _module_names()
    assert len(modules) > 40
    assert sorted(set(modules) - listed) == []
    assert sorted(listed - set(modules)) == []  # no line for a module that is gone


# -- the error tree -------------------------------------------------------------------------


def test_the_errors_page_shows_the_tree_of_the_errors_module() -> None:
    docstring = errors.__doc__ or ""
    module_tree = docstring.split("```text\n", 1)[1].split("\n```", 1)[0]
    page = (DOCS / "guides" / "errors.md").read_text()
    assert f"```text\n{module_tree}\n```" in page
    named = set(re.findall(r"[├└]── (\w+)", module_tree))
    assert named | {"NumbersError"} == {
        name
        for name in errors.__all__
        if isinstance(getattr(errors, name), type)
        and issubclass(getattr(errors, name), errors.NumbersError)
    }
