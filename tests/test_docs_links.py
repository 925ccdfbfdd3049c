"""Links that exist: the README and the package metadata point only at real addresses.

The project publishes its documentation nowhere, so the README links into the
repository's own ``docs/`` (which any forge renders, and which the built site is made
of) and says how to build the site. An external address is allowed only if it is in
``EXTERNAL``: pages that exist and that the project means to send readers to.
``tests/test_docs_site.py`` holds the built site to the same list.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"

#: External addresses the README and the site may link to. The project itself publishes
#: nothing (no documentation host, no forge page), so none of its own addresses is here.
EXTERNAL = (
    "https://developers.sinch.com/docs/numbers/",  # the Sinch Numbers API documentation
    "https://github.com/sinch/sinch-sdk-",  # Sinch's official SDKs, cited in the API facts
    "https://github.com/Textualize/rich",  # the progress-bar library the CLI uses
    "https://squidfunk.github.io/mkdocs-material/",  # the site theme's "Made with" footer
    "https://nox.thea.codes/",  # nox, which runs every development session
)

_INLINE = re.compile(r"\[[^\]]*\]\((?P<target>[^)\s]+)\)")
_AUTOLINK = re.compile(r"<(?P<target>https?://[^>\s]+)>")
_FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def links(text: str) -> list[str]:
    """Every link target in Markdown ``text``, code blocks left out."""
    prose = _FENCE.sub("", text)
    return [m["target"] for pattern in (_INLINE, _AUTOLINK) for m in pattern.finditer(prose)]


def _anchors(text: str) -> set[str]:
    """The ids a forge (and MkDocs) gives the page's headings."""
    found = set()
    for heading in re.findall(r"^#+ (.+)$", _FENCE.sub("", text), flags=re.M):
        slug = re.sub(r"[^\w\s-]", "", heading).strip().lower()
        found.add(re.sub(r"\s+", "-", slug))
    return found


def broken(page: Path, targets: list[str]) -> list[str]:
    """The targets of ``page`` that lead nowhere: unknown hosts, missing files or anchors."""
    bad = []
    for target in targets:
        parts = urlsplit(target)
        if parts.scheme or parts.netloc:
            if not target.startswith(EXTERNAL):
                bad.append(f"{target} (an address the project does not vouch for)")
            continue
        path = (page.parent / unquote(parts.path)).resolve() if parts.path else page
        if not path.exists():
            bad.append(f"{target} (no such file)")
        elif (
            parts.fragment
            and path.suffix == ".md"
            and parts.fragment not in _anchors(path.read_text())
        ):
            bad.append(f"{target} (no such heading)")
    return bad


def test_the_readme_links_exist() -> None:
    targets = links(README.read_text())
    assert len(targets) > 15
    assert broken(README, targets) == []


def test_the_readme_links_into_the_docs_and_says_how_to_build_them() -> None:
    text = README.read_text()
    pages = {t for t in links(text) if t.startswith("docs/") and t.endswith(".md")}
    assert {"docs/getting-started.md", "docs/guides/configuration.md"} <= pages
    assert "nox -s docs" in text
    assert "nox -s docs_serve" in text


def test_the_package_names_only_addresses_that_exist() -> None:
    # Every quoted address in pyproject.toml (project URLs and anything else); tomllib
    # is not in Python 3.10, and any address in the file must exist anyway.
    text = (ROOT / "pyproject.toml").read_text()
    addresses = re.findall(r"\"(https?://[^\"]+)\"", text)
    assert [url for url in addresses if not url.startswith(EXTERNAL)] == []


def test_a_link_to_a_missing_page_or_host_is_found(tmp_path: Path) -> None:
    # The check itself, on a page with one link of each kind.
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "guide.md").write_text("# Guide\n\n## Retries\n")
    page = tmp_path / "README.md"
    page.write_text(
        "[ok](book/guide.md#retries) [gone](book/nope.md) [anchor](book/guide.md#nope)\n"
        "<https://example.org/site/> [api](https://developers.sinch.com/docs/numbers/)\n"
        "```console\n[not a link](in/a/code/block.md)\n```\n"
    )
    assert broken(page, links(page.read_text())) == [
        "book/nope.md (no such file)",
        "book/guide.md#nope (no such heading)",
        "https://example.org/site/ (an address the project does not vouch for)",
    ]
