"""The `comms` command: thin wrappers that parse arguments, build the app once and print answers.

Each command group lives in its own module and is registered here.
"""

from __future__ import annotations

from typing import Any

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from typer.core import TyperGroup

from comms.cli import bounces, ebox, ledger, post, report, run, service, templates, webhooks
from comms.cli.console import err, print_invalid
from comms.errors import SettingsProblem


class CommsGroup(TyperGroup):
    """Settings errors end the command with exit 1 and the field's name, in a process or a test."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().main(*args, **kwargs)
        except ValidationError as exc:  # settings any command read: never echo the rejected value
            print_invalid(exc)
            raise SystemExit(1) from None
        except SettingsProblem as exc:  # a key file missing or unusable: one line, no traceback
            err.print(str(exc), markup=False)
            raise SystemExit(1) from None
        except SettingsError as exc:  # a setting that is not even JSON; names the field only
            err.print(str(exc), markup=False)
            raise SystemExit(1) from None


cli = typer.Typer(
    cls=CommsGroup,
    help="comms: letters, emails and eBox messages for the fund's members.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold members' data
)
cli.registered_commands += run.cli.registered_commands
cli.add_typer(ledger.cli, name="ledger")
cli.registered_commands += report.cli.registered_commands
cli.registered_commands += service.cli.registered_commands
cli.add_typer(service.dlq, name="dlq")
cli.add_typer(templates.cli, name="templates")
cli.add_typer(post.cli, name="post")
cli.add_typer(bounces.cli, name="bounces")
cli.add_typer(webhooks.cli, name="webhooks")
cli.registered_commands += ebox.cli.registered_commands


def main() -> None:
    cli()
