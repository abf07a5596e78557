"""Follows each template, its includes, imports and macros, and finds every variable it reads.

Each use is resolved against the context's shapes (from the pydantic event models), so a
misspelt or missing field is found before any event meets it, with the file and the line.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, TemplateNotFound, TemplateSyntaxError, nodes

from comms.compose.checks import parsing
from comms.compose.checks.shapes import ANY, Shape

Scope = ChainMap[str, Shape]
# Names Jinja itself provides inside templates (`self.title()`, `loop.index`, `super()` …).
JINJA_NAMES = ("self", "super", "loop", "caller", "varargs", "kwargs")
# Filters that keep a list a list of the same things, so `for x in items|sort(...)` stays checked.
LIST_FILTERS = frozenset({"sort", "reverse", "list", "unique", "selectattr", "rejectattr"})
ITEM_FILTERS = frozenset({"first", "last"})


@dataclass(frozen=True)
class Use:
    """One place a template reads a value; `problem` says what is wrong with it, if anything."""

    file: str
    line: int
    path: str
    problem: str = ""
    todo: str = ""


class Walker:
    """Walks the templates of one language for one document type; collects every `Use`."""

    def __init__(self, env: Environment, templates_dir: Path, context: Mapping[str, Shape]) -> None:
        self.env = env
        self.root = templates_dir.resolve()
        self.context = dict(context)
        self.uses: list[Use] = []
        self._trees: dict[str, tuple[nodes.Template, str] | None] = {}
        self._macro_calls: set[tuple[str, str, tuple[str, ...]]] = set()
        self._walking: list[str] = []

    # --- files ----------------------------------------------------------------------------------

    def tree(self, name: str) -> tuple[nodes.Template, str] | None:
        """The parsed template and its path relative to the templates folder; None if unusable.

        Missing files and syntax errors are reported by other checks, with their own wording.
        """
        if name not in self._trees:
            try:
                source, filename, _ = self.env.loader.get_source(self.env, name)  # type: ignore[union-attr]
                relative = Path(filename or name).resolve().relative_to(self.root).as_posix()
                self._trees[name] = (parsing.parse(self.env, source, name, filename), relative)
            except (TemplateNotFound, TemplateSyntaxError, ValueError):
                self._trees[name] = None
        return self._trees[name]

    def walk_entry(self, name: str) -> None:
        """One of the type's own files (letter, email, subjects), with the full context."""
        self._walk_template(name, ChainMap({}, self.context))

    def _walk_template(self, name: str, scope: Scope) -> None:
        found = self.tree(name)
        if found is None or name in self._walking:
            return
        tree, file = found
        self._walking.append(name)
        try:
            # Top-level imports, macros and sets of a child template are visible in its blocks.
            for node in tree.body:
                if isinstance(node, nodes.Import | nodes.FromImport | nodes.Macro):
                    self.stmt(node, scope, file)
            for node in tree.body:
                if not isinstance(node, nodes.Import | nodes.FromImport | nodes.Macro):
                    self.stmt(node, scope, file)
        finally:
            self._walking.pop()

    def _module(self, name: str, with_context: bool, scope: Scope) -> Shape | None:
        """An imported template: its macros; it sees the context only `with context`."""
        found = self.tree(name)
        if found is None:
            return None
        tree, file = found
        module_scope: Scope = ChainMap({}, *scope.maps) if with_context else ChainMap({})
        macros: dict[str, Shape] = {}
        for node in tree.find_all(nodes.Macro):
            macros[node.name] = Shape(
                path="", kind="macro", node=node, file=file, fields={"scope": module_scope}
            )
        module_scope.maps[0].update(macros)
        for macro in macros.values():  # checked once as written, whatever the callers pass
            self._walk_macro(macro, [], {}, file)
        return Shape(path="", kind="macros", fields=macros, file=file)

    # --- statements -----------------------------------------------------------------------------

    def body(self, statements: Iterable[nodes.Node], scope: Scope, file: str) -> None:
        for node in statements:
            self.stmt(node, scope, file)

    def stmt(self, node: nodes.Node, scope: Scope, file: str) -> None:
        """One case per tag that binds names or pulls in files; others are walked through."""
        if isinstance(node, nodes.Output):
            for child in node.nodes:
                if not isinstance(child, nodes.TemplateData):
                    self.expr(child, scope, file)
        elif isinstance(node, nodes.For):
            items = self.expr(node.iter, scope, file)
            inner: Scope = scope.new_child({"loop": ANY})
            self.bind(node.target, items.element(), inner)
            if node.test is not None:
                self.expr(node.test, inner, file)
            self.body(node.body, inner, file)
            self.body(node.else_, scope.new_child(), file)
        elif isinstance(node, nodes.If):
            self.expr(node.test, scope, file)
            self.body(node.body, scope, file)
            for branch in node.elif_:
                self.stmt(branch, scope, file)
            self.body(node.else_, scope, file)
        elif isinstance(node, nodes.Assign):
            self.bind(node.target, self.expr(node.node, scope, file), scope)
        elif isinstance(node, nodes.AssignBlock):
            self.body(node.body, scope.new_child(), file)
            self.bind(node.target, Shape(path="", kind="leaf", leaf=(str,)), scope)
        elif isinstance(node, nodes.With):
            inner = scope.new_child()
            for target, value in zip(node.targets, node.values, strict=True):
                self.bind(target, self.expr(value, scope, file), inner)
            self.body(node.body, inner, file)
        elif isinstance(node, nodes.Macro):
            macro = Shape(path="", kind="macro", node=node, file=file, fields={"scope": scope})
            scope[node.name] = macro
            self._walk_macro(macro, [], {}, file)
        elif isinstance(node, nodes.CallBlock):
            self.expr(node.call, scope, file)
            self.body(node.body, scope.new_child({a.name: ANY for a in node.args}), file)
        elif isinstance(node, nodes.Include):
            name = _literal(node.template)
            if name is not None:
                self._walk_template(name, scope.new_child() if node.with_context else ChainMap({}))
        elif isinstance(node, nodes.Extends):
            name = _literal(node.template)
            if name is not None:
                self._walk_template(name, ChainMap({}, self.context))
        elif isinstance(node, nodes.Import):
            name = _literal(node.template)
            module = self._module(name, node.with_context, scope) if name else None
            scope[node.target] = module or ANY
        elif isinstance(node, nodes.FromImport):
            name = _literal(node.template)
            module = self._module(name, node.with_context, scope) if name else None
            for item in node.names:
                original, alias = item if isinstance(item, tuple) else (item, item)
                found = module.child(original) if module else None
                scope[alias] = found or ANY
        else:
            for part in node.iter_child_nodes():
                if isinstance(part, nodes.Expr):
                    self.expr(part, scope, file)
                else:
                    self.stmt(part, scope, file)

    def bind(self, target: nodes.Node, value: Shape, scope: Scope) -> None:
        if isinstance(target, nodes.Name):
            scope[target.name] = value
        elif isinstance(target, nodes.Tuple):
            for item in target.items:
                self.bind(item, ANY, scope)

    def _walk_macro(
        self, macro: Shape, args: list[Shape], kwargs: dict[str, Shape], file: str
    ) -> None:
        """The macro's body with its parameters bound to what the caller passes (or anything)."""
        node: nodes.Macro = macro.node
        key = (macro.file, node.name, tuple(a.path for a in args) + tuple(sorted(kwargs)))
        if key in self._macro_calls:
            return
        self._macro_calls.add(key)
        defining: Scope = macro.fields["scope"]
        params: dict[str, Shape] = {"caller": ANY, "varargs": ANY, "kwargs": ANY}
        for i, param in enumerate(node.args):
            params[param.name] = args[i] if i < len(args) else kwargs.get(param.name, ANY)
        for default in node.defaults:
            self.expr(default, defining, macro.file)
        self.body(node.body, defining.new_child(params), macro.file)

    # --- expressions ----------------------------------------------------------------------------

    def expr(self, node: nodes.Node, scope: Scope, file: str) -> Shape:
        """The shape of an expression; names and field chains are recorded as uses."""
        if isinstance(node, nodes.Name | nodes.Getattr | nodes.Getitem):
            shape = self.chain(node, scope, file)
            if shape is not None and shape.path:
                self.uses.append(Use(file, node.lineno, shape.path))
            return shape or ANY
        if isinstance(node, nodes.Call):
            return self.call(node, scope, file)
        if isinstance(node, nodes.Filter):
            return self.filter(node, scope, file)
        if isinstance(node, nodes.Test) and node.name not in self.env.tests:
            self.uses.append(
                Use(
                    file,
                    node.lineno,
                    "",
                    f"there is no test called `{node.name}` (as in `is {node.name}`).",
                    "Check the spelling: Jinja's tests include defined, none, number, string, even, odd.",
                )
            )
        if isinstance(node, nodes.CondExpr):
            self.expr(node.test, scope, file)
            first = self.expr(node.expr1, scope, file)
            if node.expr2 is not None:
                self.expr(node.expr2, scope, file)
            return first
        for child in node.iter_child_nodes():
            if isinstance(child, nodes.Expr):
                self.expr(child, scope, file)
        return ANY

    def chain(self, node: nodes.Node, scope: Scope, file: str) -> Shape | None:
        """`a.b[0].c`: resolved left to right; the first unknown part is reported, once."""
        if isinstance(node, nodes.Name):
            if node.name in scope:
                return scope[node.name]
            if node.name in JINJA_NAMES or node.name in self.env.globals:
                return ANY
            self.uses.append(
                Use(
                    file,
                    node.lineno,
                    node.name,
                    f"`{node.name}` is not something a template can use here.",
                    "Check the spelling. Templates can use "
                    + ", ".join(f"`{n}`" for n in sorted(self.context))
                    + ", and names made with {% set %}, {% for %} or {% import %}. "
                    "An imported file only sees what its macros are given.",
                ),
            )
            return None
        if isinstance(node, nodes.Getattr):
            return self._field(node, self.chain(node.node, scope, file), node.attr, file)
        if isinstance(node, nodes.Getitem):
            base = self.chain(node.node, scope, file)
            key = node.arg.value if isinstance(node.arg, nodes.Const) else None
            if isinstance(key, str):
                return self._field(node, base, key, file)
            self.expr(node.arg, scope, file)
            if base is None:
                return None
            return base.element() if isinstance(key, int) else base
        return self.expr(node, scope, file)

    def _field(self, node: nodes.Node, base: Shape | None, name: str, file: str) -> Shape | None:
        if base is None:
            return None
        found = base.child(name)
        if found is not None:
            return found
        path = f"{base.path}.{name}" if base.path else name
        shown = _written(node)
        if base.kind in ("record", "macros"):
            known = ", ".join(base.known_names()) or "nothing"
            todo = f"Check the spelling. What exists here: {known}."
            if base.path.startswith(("data", "recipient")):
                todo += (
                    " If the letter really needs it, a developer must first add it to the event"
                    " (comms/events.py)."
                )
            elif base.path.startswith("fund"):
                todo += " Or add it to fund.toml, in both languages."
            owner = _display(base.path) if base.path else f"`{base.file}`"
            what = f"`{shown}` does not exist: {owner} has no `{name}`."
        elif base.kind == "leaf" and base.leaf == (type(None),):
            what = f"`{shown}` does not exist for this document type: `{base.path}` is always empty here."
            todo = (
                "Remove it from this letter, or put it inside {% if "
                + base.path
                + " %} … {% endif %} in a piece that other letters share."
            )
        else:
            what = f"`{shown}` does not exist: {_display(base.path)} is a single value, not a group of fields."
            todo = f"Use {_display(base.path)} itself, or check the spelling."
        self.uses.append(Use(file, node.lineno, path, what, todo))
        return None

    def call(self, node: nodes.Call, scope: Scope, file: str) -> Shape:
        callee = (
            self.chain(node.node, scope, file)
            if isinstance(node.node, nodes.Name | nodes.Getattr | nodes.Getitem)
            else self.expr(node.node, scope, file)
        )
        args = [self.expr(a, scope, file) for a in node.args]
        kwargs = {k.key: self.expr(k.value, scope, file) for k in node.kwargs}
        for extra in (node.dyn_args, node.dyn_kwargs):
            if extra is not None:
                self.expr(extra, scope, file)
        if callee is not None and callee.kind == "macro":
            self._walk_macro(callee, args, kwargs, file)
        return ANY

    def filter(self, node: nodes.Filter, scope: Scope, file: str) -> Shape:
        value = self.expr(node.node, scope, file) if node.node is not None else ANY
        for arg in [*node.args, *(k.value for k in node.kwargs)]:
            self.expr(arg, scope, file)
        if node.name not in self.env.filters:
            self.uses.append(
                Use(
                    file,
                    node.lineno,
                    "",
                    f"there is no filter called `{node.name}`.",
                    "Check the spelling; the filters are listed in docs/templates.md "
                    "(money, date_long, date_short, number, ogm, iban, insz, kbo, country_name, "
                    "and Jinja's own such as upper or length).",
                )
            )
            return ANY
        if node.name in LIST_FILTERS:
            return value
        if node.name in ITEM_FILTERS:
            return value.element()
        if node.name == "default":
            return value
        return ANY


def _written(node: nodes.Node) -> str:
    """The expression as staff wrote it: `appeal.court.nme`, `item["kind"]`."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        return f"{_written(node.node)}.{node.attr}"
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        return f"{_written(node.node)}[{node.arg.value!r}]"
    return "…"


def _display(path: str) -> str:
    """`data.open_items[]` reads as "each item of `data.open_items`"."""
    if path.endswith("[]"):
        return f"each item of `{path[:-2]}`"
    return f"`{path}`"


def _literal(node: nodes.Expr) -> str | None:
    """The file name of `{% include "x" %}`; names built at run time cannot be followed."""
    value: Any = node.value if isinstance(node, nodes.Const) else None
    return value if isinstance(value, str) else None
