"""One sandboxed Jinja2 environment per language, seeing only that language's files and the skeleton."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    select_autoescape,
)
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from comms.compose.filters import filters_for
from comms.models import Language

# One template's output, at most: about 100 times the largest letter (an account statement, 9 KB
# of HTML), so no real letter comes near it and a runaway template stops long before memory does.
MAX_TEXT_CHARS = 1_000_000
MAX_POWER_BITS = 4096  # `a ** b` in a template: far beyond any amount, far below a slow number


class TooLarge(SecurityError):
    """A template expression would build a value no letter needs: the letter is refused."""


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, plus no `*` or `**` that would build a value too large to print in a letter.

    Jinja's sandbox already bounds `range`; `"x" * 10**9` would otherwise take a gigabyte before
    the output bound (`Composer`) sees a character of it.
    """

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*" and any(
            isinstance(seq, str | list | tuple)
            and isinstance(n, int)
            and len(seq) * n > MAX_TEXT_CHARS
            for seq, n in ((left, right), (right, left))
        ):
            raise TooLarge(f"a value longer than {MAX_TEXT_CHARS:,} characters")
        if (
            operator == "**"
            and isinstance(left, int)
            and isinstance(right, int)
            and abs(left) > 1
            and right > 0
            and abs(left).bit_length() * right > MAX_POWER_BITS
        ):
            raise TooLarge(f"a number larger than {MAX_POWER_BITS} bits")
        return super().call_binop(context, operator, left, right)


def build_environment(templates_dir: Path, language: Language) -> BoundedEnvironment:
    """Sandboxed (no Python internals), autoescaped HTML, strict about undefined variables.

    The loader sees `templates/<lang>/` and `shared/`; never the other language, so a legal text
    cannot be assembled from two languages and nothing falls back silently (DESIGN.md, Fail closed).
    """
    loader = ChoiceLoader(
        [
            FileSystemLoader(templates_dir / language.value),
            PrefixLoader({"shared": FileSystemLoader(templates_dir / "shared")}),
        ]
    )
    env = BoundedEnvironment(
        loader=loader,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=True,
    )
    env.filters.update(filters_for(language.locale))
    return env


def load_fund(templates_dir: Path, language: Language) -> dict[str, Any]:
    """The fund's details as staff wrote them for this language (`templates/<lang>/fund.toml`)."""
    with (templates_dir / language.value / "fund.toml").open("rb") as f:
        return tomllib.load(f)
