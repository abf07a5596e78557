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
from jinja2.sandbox import ImmutableSandboxedEnvironment

from comms.compose.filters import filters_for
from comms.models import Language


def build_environment(templates_dir: Path, language: Language) -> ImmutableSandboxedEnvironment:
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
    env = ImmutableSandboxedEnvironment(
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
