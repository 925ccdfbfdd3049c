"""The documentation site as a reader sees it: built with ``mkdocs build --strict``, then read.

Each check reads the built HTML, not the sources, so whatever renders the page (Markdown,
mkdocstrings, the griffe extension in ``docs/_griffe_public.py``, the CLI hook) is judged
by its output. A failure names the page and quotes the offending text.

- No reStructuredText left: no raw ``:class:``/``:mod:``/``:attr:``/``:meth:`` role, no
  paragraph ending in ``::``, no repository path such as ``docs/api-facts.md`` printed
  instead of a link.
- Only public names: no ``numbers_async._`` path, ``_...Arg`` alias or other private
  class in headings, signatures, bases or type columns (nor in the tooltips of their
  cross-references); no ``name = name`` attribute values; the resource groups under the
  path a user reaches them by (``client.available_numbers``).
- Every table-of-contents entry leads to a heading; every internal link and anchor
  resolves; an external link goes only to an address in ``EXTERNAL``.
- Every code block and signature is at most ``MAX_COLUMNS`` wide, the width of the content
  column at 1280 px (``tests/test_docs_width.py`` checks the Markdown sources).

The docs toolchain needs Python 3.11+ and is installed by ``nox`` (the ``docs`` session and
the test sessions). Where it is missing the module is skipped with one line, except under
``CI``, where that is a failure.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.test_docs_links import EXTERNAL

ROOT = Path(__file__).parent.parent

#: Code blocks wrap at this width: the content column of the site at 1280 px shows about 82
#: monospace characters, and 80 is what a terminal and a side-by-side diff show as well.
MAX_COLUMNS = 80


#: The navigation section for people working on the project itself; its pages name
#: private modules on purpose.
CONTRIBUTING = "Contributing"

_MISSING = [
    name for name in ("mkdocs", "material", "mkdocstrings") if not importlib.util.find_spec(name)
]
_TOO_OLD = sys.version_info < (3, 11)  # a variable: mypy checks this file as 3.10
if _TOO_OLD:
    pytest.skip("the docs toolchain needs Python 3.11+", allow_module_level=True)
if _MISSING and not os.environ.get("CI"):
    pytest.skip(
        f"docs toolchain not installed ({', '.join(_MISSING)}): run `nox -s docs`",
        allow_module_level=True,
    )


# -- a small HTML tree ---------------------------------------------------------------------

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


@dataclass(eq=False)
class Node:
    """An element of a parsed page: its tag, attributes and children (nodes and text)."""

    tag: str
    attrs: dict[str, str]
    parent: Node | None = None
    children: list[Node | str] = field(default_factory=list)

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.walk()

    def text(self, skip: frozenset[str] = frozenset()) -> str:
        """The text inside, without the subtrees whose tag is in ``skip``."""
        parts: list[str] = []
        for child in self.children:
            if isinstance(child, str):
                parts.append(child)
            elif child.tag not in skip:
                parts.append(child.text(skip))
        return "".join(parts)

    def find_all(self, tag: str | None = None, cls: str | None = None) -> list[Node]:
        return [
            node
            for node in self.walk()
            if (tag is None or node.tag == tag) and (cls is None or cls in node.classes())
        ]


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self._open = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self._open)
        self._open.children.append(node)
        if tag not in _VOID:
            self._open = node

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self._open
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:  # an unmatched end tag is ignored
            self._open = node.parent

    def handle_data(self, data: str) -> None:
        self._open.children.append(data)


@dataclass
class Page:
    """One built page: its path under the site and its parsed tree."""

    name: str
    root: Node

    @property
    def article(self) -> Node:
        (article,) = self.root.find_all("article")
        return article

    def ids(self) -> set[str]:
        return {node.attrs["id"] for node in self.root.walk() if "id" in node.attrs}


def _parse(path: Path) -> Node:
    builder = _TreeBuilder()
    builder.feed(path.read_text())
    builder.close()
    return builder.root


def _snippet(text: str, match: re.Match[str], width: int = 50) -> str:
    start, end = max(match.start() - width, 0), min(match.end() + width, len(text))
    return " ".join(text[start:end].split())


# -- building the site ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert not _MISSING, f"the docs toolchain is not installed: {_MISSING}"
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=600,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    return out


@pytest.fixture(scope="module")
def pages(site: Path) -> dict[str, Page]:
    found = {
        str(path.relative_to(site)): Page(str(path.relative_to(site)), _parse(path))
        for path in sorted(site.rglob("*.html"))
        if path.name != "404.html"
    }
    assert len(found) >= 20  # a build that lost its pages must not pass every check
    return found


def _nav_sections(pages: dict[str, Page]) -> dict[str, set[str]]:
    """The site navigation's sections (as the home page shows them): title -> pages."""
    sections: dict[str, set[str]] = {}
    for item in pages["index.html"].root.find_all("li", cls="md-nav__item--section"):
        labels = [child for child in item.children if isinstance(child, Node)]
        title = next(" ".join(n.text().split()) for n in labels if n.tag == "label")
        sections[title] = {
            a.attrs["href"].rstrip("/") + "/index.html"
            for a in item.find_all("a")
            if "href" in a.attrs and not a.attrs["href"].startswith("#")
        }
    return sections


def _user_pages(pages: dict[str, Page]) -> list[Page]:
    contributors = _nav_sections(pages)[CONTRIBUTING]
    return [page for name, page in pages.items() if name not in contributors]


# -- one markup ----------------------------------------------------------------------------

_ROLE = re.compile(r"(?<![\w`]):(?:py:)?(?:class|mod|attr|meth|func|exc|data|obj|const):")
_DOCS_PATH = re.compile(r"(?<![\w/.-])docs/[\w./-]*\.md\b")
_PROSE_SKIP = frozenset({"pre", "script", "style"})
#: A role prints as ":class:" followed by its target in code; code spans themselves may
#: show a role (the contributor pages explain them).
_MARKUP_SKIP = _PROSE_SKIP | {"code"}


def test_no_raw_sphinx_roles(pages: dict[str, Page]) -> None:
    found = [
        f"{page.name}: ...{_snippet(text, match)}..."
        for page in pages.values()
        for text in [page.article.text(_MARKUP_SKIP)]
        for match in _ROLE.finditer(text)
    ]
    assert found == [], "raw Sphinx roles (use [`Name`][numbers_async.Name] links):\n" + "\n".join(
        found
    )


def test_no_paragraph_ends_in_a_double_colon(pages: dict[str, Page]) -> None:
    found = [
        f"{page.name}: {' '.join(p.text().split())[-80:]!r}"
        for page in pages.values()
        for p in page.article.find_all("p")
        if p.text(_MARKUP_SKIP).rstrip().endswith("::")
    ]
    assert found == [], (
        "paragraphs ending in '::' (an 'Examples:' section with a fenced block instead):\n"
        + "\n".join(found)
    )


def test_no_repository_path_printed_instead_of_a_link(pages: dict[str, Page]) -> None:
    found = [
        f"{page.name}: ...{_snippet(text, match)}..."
        for page in pages.values()
        for text in [page.article.text(_PROSE_SKIP)]
        for match in _DOCS_PATH.finditer(text)
    ]
    assert found == [], "docs/ paths printed as text (link the page instead):\n" + "\n".join(found)


# -- only public names ---------------------------------------------------------------------

_PRIVATE_PATH = re.compile(r"\bnumbers_async(?:\.\w+)*\._[A-Za-z]\w*")
_PRIVATE_NAME = re.compile(r"(?<![\w.])_[A-Za-z]\w*")
#: Where the reference shows names of types: signatures, "Bases:" lines, type columns.
_TYPE_PLACES = ("doc-signature", "doc-class-bases")


def _type_texts(page: Page) -> Iterator[tuple[str, str]]:
    """(where, text) of every place the page names types, and every cross-reference title."""
    for node in page.article.walk():
        classes = node.classes()
        if classes & set(_TYPE_PLACES):
            yield sorted(classes & set(_TYPE_PLACES))[0], node.text()
        elif node.tag == "tr" and "doc-section-item" in classes:
            cells = [c for c in node.children if isinstance(c, Node) and c.tag == "td"]
            if len(cells) > 1:  # Name | Type | ...; the type is the second cell
                yield "type column", cells[1].text()
        if "title" in node.attrs and node.tag in {"a", "span"}:
            title = node.attrs["title"]
            if title.startswith("numbers_async") or " (numbers_async" in title:
                yield "cross-reference title", title


def test_no_private_module_path_on_any_page(pages: dict[str, Page]) -> None:
    found = [
        f"{page.name}: ...{_snippet(text, match)}..."
        for page in _user_pages(pages)
        for text in [page.article.text()]
        for match in _PRIVATE_PATH.finditer(text)
    ]
    assert found == [], "private module paths shown to readers:\n" + "\n".join(found)


def test_no_anchor_or_link_names_a_private_path(site: Path, pages: dict[str, Page]) -> None:
    # What an address bar or a copied link shows: the resource groups and Timeout are
    # documented from private modules, and their anchors take their public names.
    found = sorted(
        {
            f"{name}: {where}"
            for name, page in pages.items()
            for where in [*page.ids(), *(unquote(href) for href in _links(page))]
            if _PRIVATE_PATH.search(where)
        }
    )
    index = json.loads((site / "search" / "search_index.json").read_text())
    found += [doc["location"] for doc in index["docs"] if _PRIVATE_PATH.search(doc["location"])]
    assert found == [], "private paths in anchors and links:\n" + "\n".join(found)
    assert "client.active_numbers.get" in pages["reference/client/index.html"].ids()


def test_no_private_name_in_signatures_bases_or_types(pages: dict[str, Page]) -> None:
    found = sorted(
        {
            f"{page.name}: {where}: ...{_snippet(text, match, 40)}..."
            for page in _user_pages(pages)
            for where, text in _type_texts(page)
            for match in [*_PRIVATE_NAME.finditer(text), *_PRIVATE_PATH.finditer(text)]
        }
    )
    assert found == [], "private names in rendered signatures and types:\n" + "\n".join(found)


def test_no_attribute_shown_as_its_own_parameter(pages: dict[str, Page]) -> None:
    # `self.project_id = project_id` in __init__ renders as "project_id = project_id".
    found = [
        f"{page.name}: {' '.join(sig.text().split())!r}"
        for page in pages.values()
        for sig in page.article.find_all(cls="doc-signature")
        if re.fullmatch(r"\s*(\w+)(?::[^=]*)?\s*=\s*\1\s*", sig.text())
    ]
    assert found == [], "attributes whose shown value is the parameter's name:\n" + "\n".join(found)


RESOURCE_GROUPS = [
    "client.available_regions",
    "client.available_numbers",
    "client.active_numbers",
    "client.callbacks",
]


def test_resource_groups_are_shown_by_their_public_access_path(pages: dict[str, Page]) -> None:
    page = pages["reference/client/index.html"]
    headings = [" ".join(h.text().replace("¶", "").split()) for h in page.article.find_all("h2")]
    assert [h for h in headings if h in RESOURCE_GROUPS] == RESOURCE_GROUPS, headings
    toc = [" ".join(a.text().split()) for a in _toc_links(page)]
    assert [t for t in toc if t in RESOURCE_GROUPS] == RESOURCE_GROUPS, toc


def test_resource_groups_show_no_constructor(pages: dict[str, Page]) -> None:
    # A user never builds a resource group; its constructor takes the client's internals.
    page = pages["reference/client/index.html"]
    for heading in page.article.find_all("h2"):
        name = " ".join(heading.text().replace("¶", "").split())
        if name in RESOURCE_GROUPS:
            assert heading.parent is not None
            block = heading.parent
            signatures = [
                child
                for child in block.children
                if isinstance(child, Node) and "doc-signature" in child.classes()
            ]
            assert signatures == [], f"{name} shows a constructor signature"


# -- navigation and links ------------------------------------------------------------------


def _section_of(node: Node) -> str | None:
    """The title of the navigation section ``node`` is in, if any."""
    parent = node.parent
    while parent is not None:
        if parent.tag == "li" and "md-nav__item--section" in parent.classes():
            labels = [c for c in parent.children if isinstance(c, Node) and c.tag == "label"]
            return " ".join(labels[0].text().split()) if labels else None
        parent = parent.parent
    return None


def test_contributor_pages_have_their_own_section(pages: dict[str, Page]) -> None:
    sections = _nav_sections(pages)
    assert sections[CONTRIBUTING] == {
        "development/index.html",
        "architecture/index.html",
        "contributing-docs/index.html",
    }
    # Nowhere else in the navigation: not in another section, not at the top level.
    (primary,) = [
        nav
        for nav in pages["index.html"].root.find_all("nav")
        if "md-nav--primary" in nav.classes()
    ]
    placed = {
        (a.attrs["href"], _section_of(a))
        for a in primary.find_all("a")
        if a.attrs.get("href", "").rstrip("/") + "/index.html" in sections[CONTRIBUTING]
    }
    assert placed == {
        ("development/", CONTRIBUTING),
        ("architecture/", CONTRIBUTING),
        ("contributing-docs/", CONTRIBUTING),
    }


def test_the_home_page_example_starts_with_the_install_line(pages: dict[str, Page]) -> None:
    article = pages["index.html"].article
    blocks = [pre.text().strip() for pre in article.find_all("pre")]
    assert blocks, "the home page has no example"
    assert blocks[0] == "pip install numbers-async"
    assert "import asyncio" in blocks[1]


def _toc_links(page: Page) -> list[Node]:
    """The page's table of contents (the theme renders it twice: sidebar and mobile menu)."""
    navs = [nav for nav in page.root.find_all("nav") if "md-nav--secondary" in nav.classes()]
    if not navs:
        return []
    return [a for a in navs[-1].find_all("a") if a.attrs.get("href", "").startswith("#")]


def test_every_table_of_contents_entry_leads_to_a_heading(pages: dict[str, Page]) -> None:
    headings: dict[str, dict[str, str]] = {
        name: {node.attrs["id"]: node.tag for node in page.root.walk() if "id" in node.attrs}
        for name, page in pages.items()
    }
    found = [
        f"{name}: entry {' '.join(a.text().split())!r} -> {a.attrs['href']} "
        f"({headings[name].get(a.attrs['href'][1:], 'missing')})"
        for name, page in pages.items()
        for a in _toc_links(page)
        if headings[name].get(unquote(a.attrs["href"][1:])) not in {"h1", "h2", "h3", "h4", "h5"}
    ]
    assert found == [], "table-of-contents entries without a heading:\n" + "\n".join(found)


def _links(page: Page) -> Iterator[str]:
    for node in page.root.walk():
        if node.tag == "a" and "href" in node.attrs:
            yield node.attrs["href"]


def test_every_internal_link_and_anchor_resolves(site: Path, pages: dict[str, Page]) -> None:
    ids = {name: page.ids() for name, page in pages.items()}
    checked = 0
    broken: list[str] = []
    for name, page in pages.items():
        for href in _links(page):
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith("mailto:"):
                continue
            checked += 1
            target = (site / name).parent / unquote(parts.path) if parts.path else site / name
            if target.is_dir():
                target = target / "index.html"
            target = target.resolve()
            if not target.is_file():
                broken.append(f"{name}: {href} (no such file)")
                continue
            key = str(target.relative_to(site.resolve()))
            if parts.fragment and key in ids and unquote(parts.fragment) not in ids[key]:
                broken.append(f"{name}: {href} (no such anchor)")
    assert checked > 1000
    assert broken == [], "broken internal links:\n" + "\n".join(broken)


def test_external_links_go_only_to_known_addresses(site: Path, pages: dict[str, Page]) -> None:
    found = sorted(
        {
            f"{name}: {href}"
            for name, page in pages.items()
            for href in _links(page)
            if urlsplit(href).scheme in {"http", "https"}
            and not any(href.startswith(known) for known in EXTERNAL)
        }
    )
    assert found == [], "links to addresses the project does not vouch for:\n" + "\n".join(found)


def test_the_header_links_no_repository(pages: dict[str, Page]) -> None:
    for name, page in pages.items():
        assert page.root.find_all(cls="md-source") == [], f"{name}: a repository link"


# -- widths --------------------------------------------------------------------------------


def test_every_code_block_and_signature_fits_the_column(pages: dict[str, Page]) -> None:
    found = [
        f"{page.name}: {len(line)} columns: {line.strip()[:70]!r}"
        for page in pages.values()
        for pre in page.article.find_all("pre")
        for line in pre.text().splitlines()
        if len(line) > MAX_COLUMNS
    ]
    assert found == [], f"code lines wider than {MAX_COLUMNS} columns:\n" + "\n".join(found)
