"""The lock (constraints.txt) pins every dependency pyproject.toml names, within its range.

A dependency added to pyproject.toml without regenerating the lock would install unpinned in the
image, ./dev and CI: this names it and says how to regenerate (docs/operations.md).
"""

from __future__ import annotations

import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from comms.settings import REPO_ROOT


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (REPO_ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version.split(";", 1)[0].strip()
    return pins


def test_every_dependency_and_its_extras_are_pinned_within_their_range() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    wanted += [Requirement(r) for extra in project["optional-dependencies"].values() for r in extra]
    pins = _pins()
    problems = []
    for req in wanted:
        pin = pins.get(canonicalize_name(req.name))
        if pin is None:
            problems.append(f"{req.name} is not in constraints.txt")
        elif not req.specifier.contains(pin, prereleases=True):
            problems.append(f"{req.name}=={pin} is outside {req.specifier}")
    assert not problems, "regenerate the lock (docs/operations.md, Dependencies): " + "; ".join(
        problems
    )
    assert pins.get("hiredis") and pins.get("email-validator")  # extras the ranges ask for
