"""Browser smoke test of the built documentation site (``nox -s docs_browser``).

Serves a built site on a free loopback port and drives the system's Chromium
(``/usr/bin/chromium``, Debian's package) through Playwright, as a reader would:

- the home page, a guide and the API reference open, with their headings;
- every code block on them fits the content column at 1280 px (no sideways scrolling);
- searching for ``rent_any`` lists results that mention it;
- no page logs a console error or throws, except failed network requests (the site
  fetches nothing from outside, and a sandbox may refuse even that).

Screenshots of each step go to the output directory, kept as an artifact. Not collected
by pytest (it needs a browser): run it with
``python -m tests.docs_browser --site site --out site-screenshots``.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from playwright.sync_api import ConsoleMessage, Error, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
#: Flags that let Chromium run headless in a container, and keep it from calling home.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: The width the content column is judged at (code blocks fit 80 columns there).
WIDTH, HEIGHT = 1280, 900
#: Generous: the search index is built in a web worker on first use, on a loaded machine.
TIMEOUT_MS = 30_000
#: What a console error caused by a failed request says (not the site's own fault).
NETWORK_ERRORS = ("Failed to load resource", "net::ERR_")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(site: Path) -> Iterator[str]:
    """Serve ``site`` on 127.0.0.1 (a free port) for the duration; yield its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="docs-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class Smoke:
    """One browser session over the site; ``problems`` collects what went wrong."""

    def __init__(self, page: Page, base: str, out: Path) -> None:
        self.page = page
        self.base = base
        self.out = out
        self.problems: list[str] = []
        self.console_errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.console_errors.append(f"exception: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith(NETWORK_ERRORS):
            self.console_errors.append(f"{self.page.url}: {message.text}")

    def check(self, condition: bool, problem: str) -> None:
        if not condition:
            self.problems.append(problem)

    def open(self, path: str, heading: str, shot: str) -> None:
        """Open ``path``; its page must have ``heading`` and no code block that scrolls."""
        response = self.page.goto(f"{self.base}/{path}", wait_until="load")
        self.check(response is not None and response.ok, f"/{path}: did not load")
        headings = self.page.locator("article h1, article h2").all_inner_texts()
        self.check(
            any(heading in text for text in headings),
            f"/{path}: no heading {heading!r} among {headings[:5]}",
        )
        wide = self.page.eval_on_selector_all(
            "article pre > code",
            "codes => codes.filter(c => c.scrollWidth > c.clientWidth + 1)"
            ".map(c => c.innerText.split('\\n')[0].slice(0, 60))",
        )
        self.check(wide == [], f"/{path}: code blocks scroll sideways: {wide}")
        self.page.screenshot(path=str(self.out / f"{shot}.png"), full_page=False)

    def search(self, term: str) -> None:
        """Type ``term`` in the header's search box; results must mention it."""
        self.page.goto(f"{self.base}/", wait_until="load")
        box = self.page.locator("input.md-search__input")  # in the header at 1280 px
        box.click()
        box.fill(term)
        results = self.page.locator(".md-search-result__item")
        try:
            results.first.wait_for(state="visible", timeout=TIMEOUT_MS)
        except Error:
            self.problems.append(f"search {term!r}: no results within {TIMEOUT_MS} ms")
        else:
            texts = results.all_inner_texts()
            self.check(
                any(term in text for text in texts),
                f"search {term!r}: {len(texts)} results, none mentions it",
            )
            print(f"search {term!r}: {len(texts)} results")
        self.page.screenshot(path=str(self.out / "search.png"), full_page=False)


def run(site: Path, out: Path) -> list[str]:
    """Every problem the smoke test found (empty when the site is sound)."""
    out.mkdir(parents=True, exist_ok=True)
    with (
        serve(site) as base,
        sync_playwright() as playwright,
        tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile,
    ):
        context = playwright.chromium.launch_persistent_context(
            profile,  # a fresh --user-data-dir
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": WIDTH, "height": HEIGHT},
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            smoke = Smoke(context.new_page(), base, out)
            smoke.open("", "numbers-async", "home")
            smoke.open("guides/configuration/", "Configuration", "guide")
            smoke.open("reference/client/", "client.available_numbers", "reference")
            smoke.search("rent_any")
        finally:
            context.close()
    return smoke.problems + [f"console: {error}" for error in smoke.console_errors]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--site", type=Path, required=True, help="a built site (mkdocs build)")
    parser.add_argument("--out", type=Path, required=True, help="where screenshots go")
    args = parser.parse_args(argv)
    if not (args.site / "index.html").is_file():
        parser.error(f"{args.site} holds no built site (no index.html)")
    problems = run(args.site, args.out)
    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    print(f"{'failed' if problems else 'passed'}: screenshots in {args.out}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
