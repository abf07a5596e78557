"""The two consoles every command prints to: answers on stdout, problems on stderr."""

from pydantic import ValidationError
from rich.console import Console

console = Console()
err = Console(stderr=True)


def print_invalid(exc: ValidationError) -> None:
    """Field and reason only, on stderr: a rejected value may be a secret or a member's data."""
    settings = exc.title == "Settings"
    for e in exc.errors(include_input=False, include_url=False):
        name = "_".join(str(p) for p in e["loc"])
        where = (f"COMMS_{name.upper()}: " if settings else f"{name}: ") if name else ""
        err.print(f"{where}{e['msg'].removeprefix('Value error, ')}", markup=False)
