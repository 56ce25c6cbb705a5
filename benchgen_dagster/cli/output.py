"""What every command prints through: the two consoles, the exit codes, and one-line errors.

Errors are one line on stderr, never a traceback: `fail` and `fail_usage` print it and leave with the
exit code.
"""

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

console = Console()
# Errors and notes are one line each, never wrapped to the terminal's width (scripts and logs read them).
error_console = Console(stderr=True, soft_wrap=True)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    error_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def fail_usage(message: str) -> NoReturn:
    fail(message, EXIT_USAGE)


def one_line(error: BaseException) -> str:
    first = str(error).splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def mark(passed: bool | None, ran: bool = True) -> str:
    """A table cell: ✓, ✗, `not run`, or a dot where nothing was there to run."""
    if passed is None:
        return "[dim]·[/]" if not ran else "[yellow]not run[/]"
    return "[green]✓[/]" if passed else "[bold red]✗[/]"
