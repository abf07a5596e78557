"""One parse per template text: every check reads the same files and pieces, for every type and language.

A studio page view, `comms templates check` and every publication run the checks; parsing the same
text again for each type, each language and each check cost most of their time. The trees are
shared between checks, which only read them: never compile or optimise one (that rewrites it in
place), and never evaluate with it (it keeps the first environment that parsed it).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from jinja2 import Environment, nodes

_KEPT = 512  # trees kept: the real templates are a few dozen files per language
_trees: OrderedDict[tuple[object, ...], nodes.Template] = OrderedDict()
_lock = threading.Lock()  # the studio checks in several threads


def parse(env: Environment, source: str, name: str | None, filename: str | None) -> nodes.Template:
    """`env.parse(source, name, filename)`, made once per syntax and text.

    The tree holds neither name nor file name (only errors do), so copies of the same template
    elsewhere share it. A syntax error is raised each time (it is not kept), naming this file.
    """
    key = (_syntax(env), source)
    with _lock:
        tree = _trees.get(key)
        if tree is not None:
            _trees.move_to_end(key)
            return tree
    tree = env.parse(source, name, filename)
    with _lock:
        _trees[key] = tree
        if len(_trees) > _KEPT:
            _trees.popitem(last=False)
    return tree


def _syntax(env: Environment) -> tuple[object, ...]:
    """What decides how a text parses: the delimiters, whitespace options and extensions."""
    return (
        type(env),
        env.block_start_string,
        env.block_end_string,
        env.variable_start_string,
        env.variable_end_string,
        env.comment_start_string,
        env.comment_end_string,
        env.line_statement_prefix,
        env.line_comment_prefix,
        env.trim_blocks,
        env.lstrip_blocks,
        env.newline_sequence,
        env.keep_trailing_newline,
        tuple(sorted(env.extensions)),
    )
