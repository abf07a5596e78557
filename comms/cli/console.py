"""The two consoles every command prints to: answers on stdout, problems on stderr."""

from pydantic import ValidationError
from rich.console import Console

from comms.errors import field_error

console = Console()
err = Console(stderr=True)


def print_invalid(exc: ValidationError) -> None:
    """Field and reason only, on stderr: a rejected value may be a secret or a member's data."""
    settings = exc.title == "Settings"
    for e in exc.errors(include_input=False, include_url=False):
        found = field_error(list(e["loc"]), e["type"], e["msg"], e.get("ctx", {}))
        if not e["loc"] and settings:  # a check across settings names them in its message
            err.print(found.message, markup=False)
        else:
            where = f"COMMS_{found.field.upper()}" if settings else found.field
            err.print(f"{where}: {found.message}", markup=False)
