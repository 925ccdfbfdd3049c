"""Griffe extension: the API reference names only what a user can import.

mkdocstrings loads it (``extensions`` in ``mkdocs.yml``). It changes how the package is
shown on the site, never the package. Once griffe has read ``numbers_async``, it rewrites
every annotation, default value, attribute value and base class the reference shows:

- A name defined in a private module and exported by no public one is replaced by what
  it stands for: a type alias by its type (``EventSink`` becomes
  ``Callable[[NumbersEvent], Awaitable[None]] | asyncio.Queue[NumbersEvent]``), a
  constant by its value (``DEFAULT_MAX_BODY_SIZE`` becomes ``64 * 1024``), a private base
  class by its own bases (``_OpenEnum`` becomes ``str, Enum``).
- A name imported from another package through a private module (``aiohttp``, which only
  ``_transport`` may import) is shown as that package's name.
- An attrs field shows its default (``attrs.field(default=60.0, validator=...)`` becomes
  ``60.0``), and an attribute set in ``__init__`` shows no value: it is whatever the
  argument was, which ``project_id = project_id`` does not say.
- A class whose constructor takes a private type (a resource group built by the client
  from its internals) is shown without a constructor: users never call it.

Names exported by a public module are left alone: mkdocstrings links them to their entry.
``tests/test_docs_site.py`` fails on any private name that still reaches a page.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import griffe

PACKAGE = "numbers_async"
_MAX_DEPTH = 8  # aliases of aliases; far more than the package has


def _is_private(path: str) -> bool:
    return any(
        part.startswith("_")
        and not (part.startswith("__") and part.endswith("__"))
        for part in path.split(".")
    )


def _final(obj: griffe.Object | griffe.Alias) -> griffe.Object | griffe.Alias:
    """The object an alias finally points at, or the alias itself if that is outside."""
    try:
        return obj.final_target if isinstance(obj, griffe.Alias) else obj
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return obj


class PublicNames(griffe.Extension):
    """Rewrite what the reference shows so that it names public objects only."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.path != PACKAGE:
            return
        self._pkg = pkg
        self._public = self._public_targets(pkg)
        for obj in list(self._objects(pkg)):
            if isinstance(obj, griffe.Function):
                # An overloaded method shows each overload's signature too.
                for function in (obj, *(obj.overloads or ())):
                    for parameter in function.parameters:
                        parameter.annotation = self._rewrite(
                            parameter.annotation
                        )
                        parameter.default = self._rewrite(parameter.default)
                    function.returns = self._rewrite(function.returns)
            elif isinstance(obj, griffe.Attribute):
                obj.annotation = self._rewrite(obj.annotation)
                obj.value = self._attribute_value(obj)
            elif isinstance(obj, griffe.Class):
                obj.bases = self._bases(obj.bases)
        # Last: the attribute values above are judged by where __init__ stands.
        for obj in list(self._objects(pkg)):
            if isinstance(obj, griffe.Class):
                self._hide_internal_constructor(obj)

    # -- what is public ----------------------------------------------------------------

    @staticmethod
    def _objects(obj: griffe.Object) -> Any:
        yield obj
        for member in obj.members.values():
            if not isinstance(member, griffe.Alias):
                yield from PublicNames._objects(member)

    def _public_targets(self, pkg: griffe.Module) -> set[str]:
        """The paths of every object a public module exports (under any name)."""
        public: set[str] = set()
        modules = [
            m for m in self._objects(pkg) if isinstance(m, griffe.Module)
        ]
        for module in modules:
            if _is_private(module.path):
                continue
            exports = module.exports
            names = (
                [n if isinstance(n, str) else n.name for n in exports]
                if exports is not None
                else [n for n in module.members if not n.startswith("_")]
            )
            for name in names:
                if name in module.members:
                    public.add(_final(module.members[name]).path)
        return public

    def _is_public(self, path: str) -> bool:
        target = self._lookup(path)
        if target is not None:
            path = (
                target.path
            )  # through every import: numbers_async._config.RetryPolicy
        return path in self._public or any(
            path.startswith(f"{target}.")
            and not _is_private(path[len(target) :])
            for target in self._public
        )

    def _lookup(self, path: str) -> griffe.Object | griffe.Alias | None:
        if not path.startswith(f"{PACKAGE}."):
            return None
        try:
            return _final(self._pkg[path.removeprefix(f"{PACKAGE}.")])
        except (
            KeyError,
            ValueError,
            griffe.AliasResolutionError,
            griffe.CyclicAliasError,
        ):
            return None

    # -- rewriting expressions ---------------------------------------------------------

    def _rewrite(self, expr: Any, depth: int = 0) -> Any:
        if not isinstance(expr, griffe.Expr) or depth > _MAX_DEPTH:
            return expr
        if isinstance(expr, griffe.ExprName):
            return self._name(expr, depth)
        if isinstance(expr, griffe.ExprAttribute):
            first = expr.values[0]
            if isinstance(first, griffe.ExprName):
                self._external_root(first)
            return expr
        for field in dataclasses.fields(expr):
            if (
                isinstance(expr, griffe.ExprKeyword)
                and field.name == "function"
            ):
                continue  # the call this keyword belongs to, rewritten with the call
            value = getattr(expr, field.name)
            if isinstance(value, griffe.Expr):
                setattr(expr, field.name, self._rewrite(value, depth + 1))
            elif isinstance(value, list):
                value[:] = [self._rewrite(item, depth + 1) for item in value]
        return expr

    def _name(self, expr: griffe.ExprName, depth: int) -> Any:
        path = expr.canonical_path
        if not path.startswith(f"{PACKAGE}.") or self._is_public(path):
            return expr
        target = self._lookup(path)
        if isinstance(
            target, griffe.Alias
        ):  # imported from outside through a private module
            expr.parent = target.target_path.rpartition(".")[0] or None
            return expr
        if isinstance(target, griffe.Attribute) and target.value is not None:
            return self._rewrite(target.value, depth + 1)
        return expr

    def _external_root(self, expr: griffe.ExprName) -> None:
        """``aiohttp`` in ``aiohttp.ClientSession`` when aiohttp came through ``_transport``.

        Changed in place: the names after it find their path through it.
        """
        target = self._lookup(expr.canonical_path)
        if isinstance(
            target, griffe.Alias
        ) and not target.target_path.startswith(PACKAGE):
            expr.parent = target.target_path.rpartition(".")[0] or None

    def _bases(self, bases: list[Any], depth: int = 0) -> list[Any]:
        shown: list[Any] = []
        for base in bases:
            path = (
                base.canonical_path
                if isinstance(base, griffe.Expr)
                else str(base)
            )
            target = self._lookup(path) if _is_private(path) else None
            if isinstance(target, griffe.Class) and depth < _MAX_DEPTH:
                shown.extend(self._bases(list(target.bases), depth + 1))
            elif path not in {"object", "builtins.object"}:
                shown.append(self._rewrite(base))
        return shown

    # -- attribute values and constructors ---------------------------------------------

    def _attribute_value(self, attr: griffe.Attribute) -> Any:
        value = attr.value
        cls = attr.parent
        init = (
            cls.members.get("__init__")
            if isinstance(cls, griffe.Class)
            else None
        )
        if (
            isinstance(init, griffe.Function)
            and init.lineno is not None
            and init.endlineno is not None
            and attr.lineno is not None
            and init.lineno <= attr.lineno <= init.endlineno
        ):
            return None  # set from the arguments: the value is the caller's
        if isinstance(value, griffe.ExprName) and "(" in value.canonical_path:
            return None  # a parameter's name (griffe's path for it is "Class(name)")
        if isinstance(
            value, griffe.ExprCall
        ) and value.function.canonical_path in {
            "attrs.field",
            "attr.ib",
            "attr.attrib",
            "attrs.attrib",
        }:
            for argument in value.arguments:
                if (
                    isinstance(argument, griffe.ExprKeyword)
                    and argument.name == "default"
                ):
                    return self._rewrite(argument.value)
            return None  # a factory or no default: the signature shows the rest
        return self._rewrite(value)

    def _hide_internal_constructor(self, cls: griffe.Class) -> None:
        init = cls.members.get("__init__")
        if not isinstance(init, griffe.Function) or _is_private(cls.name):
            return
        for parameter in init.parameters:
            annotation = parameter.annotation
            names = (
                [annotation]
                if isinstance(annotation, griffe.ExprName)
                else list(annotation.iterate(flat=True))
                if isinstance(annotation, griffe.Expr)
                else []
            )
            for name in names:
                if not isinstance(name, griffe.ExprName):
                    continue
                path = name.canonical_path
                if path.startswith(f"{PACKAGE}.") and not self._is_public(path):
                    target = self._lookup(path)
                    if isinstance(target, griffe.Class):
                        del cls.members["__init__"]
                        return
