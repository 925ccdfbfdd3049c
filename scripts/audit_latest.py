"""Audit the packages of this environment through PyPI's per-project JSON API.

``pip-audit`` asks PyPI about each release (``/pypi/NAME/VERSION/json``) or asks OSV.
Where neither answers, PyPI's per-project document (``/pypi/NAME/json``) still does, and
its ``vulnerabilities`` member lists the known advisories of the project's *latest*
release. So this script can vouch for a package only when the installed version is the
latest one; any other version is reported as not audited, and makes the audit fail, as
does any advisory. Run it inside the environment to audit (``nox -s audit_latest``).

Usage: ``python scripts/audit_latest.py [--index URL] [--ignore ID ...] [NAME ...]``
(names leave out those packages, e.g. the project itself, which is not on PyPI).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
import urllib.error
import urllib.request
from typing import Any

PYPI = "https://pypi.org/pypi"


def project(index: str, name: str) -> dict[str, Any]:
    """PyPI's JSON document of project ``name``."""
    if not index.startswith(("https://", "http://")):
        raise ValueError(f"--index must be an http(s) URL, not {index!r}")
    url = f"{index}/{name}/json"
    with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 (checked above)
        document: dict[str, Any] = json.load(answer)
    return document


def audit(index: str, ignored: set[str], left_out: set[str]) -> list[str]:
    """One line per problem found in this environment's packages; none when all is well."""
    problems = []
    seen = set()
    for dist in importlib.metadata.distributions():
        name, version = dist.metadata["Name"], dist.version
        key = name.lower().replace("_", "-")
        if key in left_out or key in seen:
            continue
        seen.add(key)
        try:
            document = project(index, name)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            problems.append(f"{name} {version} not audited: {exc}")
            continue
        latest = document["info"]["version"]
        if version != latest:
            problems.append(
                f"{name} {version} not audited: PyPI lists the advisories of the latest "
                f"release only ({latest})"
            )
            continue
        for vuln in document.get("vulnerabilities") or []:
            if vuln.get("withdrawn"):
                continue
            if vuln["id"] not in ignored and not set(vuln.get("aliases") or ()) & ignored:
                problems.append(f"{name} {version} has {vuln['id']}, fixed in {vuln['fixed_in']}")
        print(f"{name} {version}: latest, no known advisory", flush=True)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default=PYPI, help="the JSON API's root (default: PyPI)")
    parser.add_argument("--ignore", action="append", default=[], help="an advisory to allow")
    parser.add_argument("leave_out", nargs="*", help="packages not to audit")
    args = parser.parse_args(argv)
    left_out = {name.lower().replace("_", "-") for name in args.leave_out}
    problems = audit(args.index.rstrip("/"), set(args.ignore), left_out)
    if problems:
        print("audit failed:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print("audit: every package is its latest release, with no known advisory")
    return 0


if __name__ == "__main__":
    sys.exit(main())
