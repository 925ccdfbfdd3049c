"""Every code block a reader sees fits the content column: at most 80 characters a line.

The site's content column shows about 82 monospace characters at 1280 px, so a longer
line scrolls sideways; a terminal and a side-by-side diff show 80 as well. Blocks are
wrapped to fit rather than the font shrunk or the column widened. Checked here on the
Markdown sources (``README.md`` and every page under ``docs/``) and on the generated
command-line reference; ``tests/test_docs_site.py`` checks the built site, docstring
examples and signatures included. ``examples/`` is formatted at 80 columns
(``examples/ruff.toml``) because the pages show those files whole.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from numbers_async.cli import build_parser

ROOT = Path(__file__).parent.parent
MAX_COLUMNS = 80
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_FENCE = re.compile(
    r"^(?P<indent> *)(?P<fence>```+|~~~+)[^\n]*\n(?P<code>.*?)^(?P=indent)(?P=fence)", re.M | re.S
)


def too_wide(name: str, text: str) -> list[str]:
    """``name:line: N columns: text`` for every fenced-block line wider than the column."""
    found = []
    for block in _FENCE.finditer(text):
        first = text.count("\n", 0, block.start("code")) + 1
        for offset, line in enumerate(block["code"].splitlines()):
            line = line.removeprefix(block["indent"])
            if len(line) > MAX_COLUMNS:
                found.append(f"{name}:{first + offset}: {len(line)} columns: {line[:60]}...")
    return found


def test_the_pages_have_code_blocks() -> None:
    # A pattern that matched nothing would pass every page.
    blocks = sum(len(_FENCE.findall(page.read_text())) for page in PAGES)
    assert blocks > 50


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_code_blocks_fit_the_column(page: Path) -> None:
    found = too_wide(str(page.relative_to(ROOT)), page.read_text())
    assert found == [], f"wrap these at {MAX_COLUMNS} columns:\n" + "\n".join(found)


def test_the_generated_cli_reference_fits_the_column() -> None:
    spec = importlib.util.spec_from_file_location("docs_gen_cli", ROOT / "docs" / "_gen_cli.py")
    assert spec is not None
    assert spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    rendered: str = generator.render(build_parser())
    assert "```text" in rendered
    found = too_wide("docs/cli.md (generated)", rendered)
    assert found == [], f"wrap these at {MAX_COLUMNS} columns:\n" + "\n".join(found)


def test_a_wide_line_is_found_with_its_place() -> None:
    # The check itself: an indented fence (as in a list item) and a plain one.
    text = "intro\n\n  ```python\n  x = 1\n  " + "y" * 81 + "\n  ```\n\n```text\nok\n```\n"
    assert too_wide("page.md", text) == [f"page.md:5: 81 columns: {'y' * 60}..."]
