"""The two consoles every command prints to: answers on stdout, problems on stderr."""

from rich.console import Console

console = Console()
err = Console(stderr=True)
