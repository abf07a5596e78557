"""The `comms` command: thin wrappers that parse arguments, build the app once and print answers.

Each command group lives in its own module and is registered here.
"""

from __future__ import annotations

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError

from comms.cli import bounces, ebox, ledger, post, report, run, service, templates, webhooks
from comms.cli.console import err, print_invalid
from comms.errors import SettingsProblem

cli = typer.Typer(
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
    try:
        cli()
    except ValidationError as exc:  # settings any command read: never echo the rejected value
        print_invalid(exc)
        raise SystemExit(1) from None
    except SettingsProblem as exc:  # a key file missing or unusable: one line, no traceback
        err.print(str(exc), markup=False)
        raise SystemExit(1) from None
    except SettingsError as exc:  # a setting that is not even JSON; names the field, not the value
        err.print(str(exc), markup=False)
        raise SystemExit(1) from None
