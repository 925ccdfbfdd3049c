"""MkDocs hook: anchors of objects documented under a private path take their public name.

A few classes a user reaches only through the client (the resource groups such as
`client.active_numbers`, `client.with_raw_response`) or through another object's
attribute (`Timeout`) live in private modules, and mkdocstrings names their anchors by
that path: `#numbers_async._client.ActiveNumbers.get`. The reference shows them under the
`heading` their `:::` block sets; this hook gives their anchors that name too
(`#client.active_numbers.get`), in every page's ids and links and in the search index,
so that no private path reaches an address bar or a copied link.

The names come from the Markdown sources: each `::: numbers_async.<private path>` block
with a `heading:` option.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_BLOCK = re.compile(
    r"^::: (?P<path>numbers_async(?:\.\w+)*\._\w+(?:\.\w+)*)\n"
    r"(?:[ \t]+.*\n)*?[ \t]+heading: \"(?P<heading>[^\"]+)\"",
    re.MULTILINE,
)

_renames: dict[str, str] = {}


def renames(docs_dir: Path) -> dict[str, str]:
    """Private path -> public anchor name, for every such `:::` block under `docs_dir`."""
    found: dict[str, str] = {}
    for source in sorted(docs_dir.rglob("*.md")):
        for match in _BLOCK.finditer(source.read_text(encoding="utf-8")):
            found[match["path"]] = match["heading"]
    return found


def rename(
    text: str, names: dict[str, str], *, prefixes: tuple[str, ...]
) -> str:
    """`text` with each private path that follows one of `prefixes` renamed.

    A path is renamed whole or as the start of a longer one (`.get` after it), never
    inside another name.
    """
    if not names:
        return text
    alternatives = "|".join(
        re.escape(path) for path in sorted(names, key=len, reverse=True)
    )
    lead = "|".join(re.escape(prefix) for prefix in prefixes)
    pattern = re.compile(
        rf"(?P<lead>{lead})(?P<path>{alternatives})(?=[.\"']|$)"
    )
    return pattern.sub(lambda match: match["lead"] + names[match["path"]], text)


def on_config(config: Any, **kwargs: Any) -> Any:
    _renames.clear()
    _renames.update(renames(Path(config["docs_dir"])))
    return config


def on_post_page(output: str, **kwargs: Any) -> str:
    return rename(output, _renames, prefixes=('id="', "#"))


def on_post_build(config: Any, **kwargs: Any) -> None:
    index = Path(config["site_dir"]) / "search" / "search_index.json"
    if not index.is_file():
        return
    data = json.loads(index.read_text(encoding="utf-8"))
    for doc in data.get("docs", []):
        doc["location"] = rename(doc["location"], _renames, prefixes=("#",))
    index.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
