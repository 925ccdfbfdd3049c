"""MkDocs hook: the command-line reference, generated from the argparse definitions.

``docs/cli.md`` holds the marker ``<!-- cli-reference -->``; at build time it is replaced
by a section per subcommand of ``numbers_async.cli.build_parser()``: usage, description,
arguments and options (their help, choices and defaults) and the epilog. The options every
subcommand shares are listed once, under the global options. ``render()`` is also what
``tests/test_docs.py`` checks, so the help text is written once, in the parser.
"""

from __future__ import annotations

import argparse
import re
import textwrap
from typing import Any

MARKER = "<!-- cli-reference -->"
#: The widest line of a code block on the site (the content column at 1280 px).
WIDTH = 80
PROG = "numbers-async"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _expand(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    if not action.help or action.help == argparse.SUPPRESS:
        return ""
    formatter = parser.formatter_class(prog=parser.prog)
    return " ".join(formatter._expand_help(action).split())


def _flags(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    formatter = parser.formatter_class(prog=parser.prog)
    return f"`{formatter._format_action_invocation(action)}`"


def _details(action: argparse.Action) -> str:
    parts = []
    if action.choices is not None and not isinstance(action.choices, dict):
        parts.append(
            "one of " + ", ".join(f"`{choice}`" for choice in action.choices)
        )
    if isinstance(action, argparse._AppendAction):
        parts.append("repeatable")
    default = action.default
    if (
        action.option_strings
        and action.nargs != 0
        and default not in (None, argparse.SUPPRESS, "")
        and "default" not in (action.help or "")
    ):
        parts.append(f"default: `{default}`")
    return "; ".join(parts)


def _key(action: argparse.Action) -> tuple[str, ...]:
    return (action.dest, *action.option_strings)


def _documented(action: argparse.Action) -> bool:
    return action.help != argparse.SUPPRESS and not isinstance(
        action, (argparse._HelpAction, argparse._SubParsersAction)
    )


def _groups(
    parser: argparse.ArgumentParser, skip: set[tuple[str, ...]]
) -> list[tuple[str, str | None, list[argparse.Action]]]:
    groups = []
    for group in parser._action_groups:
        actions = [
            a
            for a in group._group_actions
            if _documented(a) and _key(a) not in skip
        ]
        if actions:
            groups.append(
                (group.title or "options", group.description, actions)
            )
    return groups


def _table(
    parser: argparse.ArgumentParser,
    groups: list[tuple[str, str | None, list[argparse.Action]]],
) -> list[str]:
    lines: list[str] = []
    for title, description, actions in groups:
        lines += ["", f"**{_escape(title[:1].upper() + title[1:])}**", ""]
        if description:
            lines += [_escape(" ".join(description.split())), ""]
        lines += ["| argument | meaning |", "|---|---|"]
        for action in actions:
            meaning = "; ".join(
                p for p in (_expand(parser, action), _details(action)) if p
            )
            lines.append(
                f"| {_flags(parser, action)} | {_escape(meaning) or '&nbsp;'} |"
            )
    return lines


def _usage(
    parser: argparse.ArgumentParser, shared: set[tuple[str, ...]] | None = None
) -> list[str]:
    """The usage line; a subcommand's shows ``[global options]`` in place of the shared ones."""
    if shared is None:
        usage = parser.format_usage().strip().removeprefix("usage: ")
    else:
        own = [
            a
            for a in parser._actions
            if _documented(a) and _key(a) not in shared
        ]
        formatter = parser.formatter_class(prog=parser.prog)
        formatter.add_usage(
            None, own, parser._mutually_exclusive_groups, prefix=""
        )
        rest = formatter.format_help().strip().removeprefix(parser.prog).strip()
        takes_shared = any(
            _documented(a) and _key(a) in shared for a in parser._actions
        )
        usage = " ".join(
            [parser.prog, *(["[global options]"] * takes_shared), rest]
        ).strip()
    return [
        "",
        "```text",
        *_wrap_usage(re.sub(r"\s+", " ", usage), parser.prog),
        "```",
    ]


def _usage_parts(usage: str) -> list[str]:
    """The items of a usage line: split at top-level spaces, as argparse breaks it.

    Never inside brackets, braces or parentheses (``[--a | --b]`` stays whole).
    """
    parts: list[str] = []
    depth, start = 0, 0
    for index, char in enumerate(usage):
        if char in "[({":
            depth += 1
        elif char in "])}":
            depth -= 1
        elif char == " " and depth == 0:
            if index > start:
                parts.append(usage[start:index])
            start = index + 1
    parts.append(usage[start:])
    return parts


def _wrap_usage(usage: str, prog: str) -> list[str]:
    """The usage in lines of at most ``WIDTH``, later lines indented past ``prog``."""
    items = _usage_parts(usage.removeprefix(prog).strip())
    indent = " " * (len(prog) + 1)
    lines = [prog]
    for item in items:
        if len(lines[-1]) + 1 + len(item) > WIDTH and lines[-1].strip():
            lines.append(indent + item)
        else:
            lines[-1] += " " + item
    return lines


def _wrap_epilog(text: str) -> list[str]:
    """Epilog lines of at most ``WIDTH``.

    An example command is continued with a backslash (it still pastes into a shell);
    prose is wrapped.
    """
    lines: list[str] = []
    for line in text.splitlines():
        if len(line) <= WIDTH:
            lines.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        if line.lstrip().startswith(PROG):
            words = line.split()
            current = indent + words[0]
            for word in words[1:]:
                if len(current) + len(word) + 3 > WIDTH:
                    lines.append(current + " \\")
                    current = indent + "    " + word
                else:
                    current += " " + word
            lines.append(current)
        else:
            lines += textwrap.wrap(
                line, WIDTH, subsequent_indent=indent, break_on_hyphens=False
            )
    return lines


def _epilog(parser: argparse.ArgumentParser) -> list[str]:
    if not parser.epilog:
        return []
    return ["", "```text", *_wrap_epilog(parser.epilog.strip("\n")), "```"]


def _subcommands(
    parser: argparse.ArgumentParser,
) -> argparse._SubParsersAction[Any]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise LookupError("the parser has no subcommands")


def render(parser: argparse.ArgumentParser) -> str:
    """The Markdown reference for ``parser`` and each of its subcommands."""
    commands = _subcommands(parser)
    helps = {choice.dest: choice.help for choice in commands._choices_actions}
    shared = {_key(a) for a in parser._actions if _documented(a)}
    lines = ["## Global options", *_usage(parser)]
    if parser.description:
        lines += ["", _escape(parser.description)]
    lines += _table(parser, _groups(parser, set()))
    lines += _epilog(parser)
    lines += ["", "Commands:", ""]
    for name in commands.choices:
        lines.append(f"- [`{name}`](#{name}): {_escape(helps.get(name) or '')}")
    for name, sub in commands.choices.items():
        lines += ["", f"## `{name}` {{#{name}}}", *_usage(sub, shared)]
        if sub.description:
            lines += ["", _escape(" ".join(sub.description.split()))]
        lines += _table(sub, _groups(sub, shared))
        lines += _epilog(sub)
    return "\n".join(lines) + "\n"


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """Replace the marker in ``cli.md`` with the generated reference."""
    if MARKER not in markdown:
        return markdown
    from numbers_async.cli import build_parser

    return markdown.replace(MARKER, render(build_parser()))
