"""The worker's commands, no Dagster: `check` and `render` a script in the sandbox, and the built-in
families (`library list`, `library check`, `library export`)."""

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from benchgen_dagster.cli.home import usable_home
from benchgen_dagster.cli.output import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    console,
    error_console,
    fail,
    fail_usage,
    mark,
)

if TYPE_CHECKING:
    from benchgen_dagster.models.reports import CheckReport


def _settings(path: Path | None):  # type: ignore[no-untyped-def]
    import yaml
    from pydantic import ValidationError

    from benchgen_dagster.models.settings import CheckSettings

    if path is None:
        return CheckSettings()
    if not path.is_file():
        fail_usage(f"settings file not found: {path}")
    try:
        return CheckSettings.from_yaml(path)
    except ValidationError as error:
        first = error.errors(include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        fail_usage(f"settings file {path}: {where}: {first['msg']}")
    except (yaml.YAMLError, OSError, ValueError) as error:
        fail_usage(f"settings file {path} is not readable YAML: {str(error).splitlines()[0]}")


def _script(path: Path) -> Path:
    if not path.exists():
        fail_usage(f"no such script: {path}")
    if not path.is_file():
        fail_usage(f"not a file: {path}")
    return path


def _checker(settings):  # type: ignore[no-untyped-def]
    """The sandboxed checker, or one line saying why untrusted code cannot run here and how to fix it."""
    from benchgen_dagster.worker.check import Checker
    from benchgen_dagster.worker.sandbox import SandboxUnavailable

    try:
        return Checker(settings, home=usable_home())
    except SandboxUnavailable as error:
        fail(str(error), EXIT_USAGE)


def _print_report(report: "CheckReport") -> None:
    from benchgen_dagster.models.reports import Check

    table = Table(title=f"benchgen check {report.script}", show_lines=False)
    table.add_column("check", style="bold")
    for seed in report.seeds:
        table.add_column(str(seed), justify="center")
    table.add_column("all seeds", justify="center")
    by_check: dict[Check, dict[int | None, bool | None]] = {}
    for result in report.results:
        cell = by_check.setdefault(result.check, {})
        # A seed that was not run is neither a pass nor a failure of its own: shown as "not run".
        cell[result.seed] = None if result.not_run else (cell.get(result.seed, True) is not False and result.passed)
    for check in Check:
        if check not in by_check:
            continue
        cells = by_check[check]
        row = [mark(cells.get(seed), seed in cells) for seed in report.seeds]
        row.append(mark(cells.get(None), None in cells))
        table.add_row(check.value, *row)
    console.print(table)
    for note in report.notes:
        loud = note.startswith("UNSANDBOXED")
        label = "[bold red]WARNING:[/]" if loud else "[yellow]note:[/]"
        error_console.print(f"{label} {escape(note)}", highlight=False)
    if report.failures:
        console.print(f"[bold red]{len(report.failures)} failed:[/]")
        for failure in report.failures:
            where = f"seed {failure.seed}" if failure.seed is not None else "all seeds"
            console.print(
                f"  [red]✗[/] {failure.check} ({where}): {escape(failure.message)}", highlight=False, soft_wrap=True
            )
    verdict = "[bold green]PASSED[/]" if report.passed else "[bold red]FAILED[/]"
    solvability = {
        "proven": "[green]proven[/] by its reference solution",
        "failed": "[red]not proven[/]: its reference solution failed",
        "unproven": "[yellow]unproven[/] (no solution(); the pipeline promotes only proven benchmarks by default)",
    }[report.solvability]
    console.print(
        f"{verdict} {len(report.seeds)} seeds in {report.wall_s:.1f} s · solvability {solvability} · "
        f"sandbox: {report.sandbox.get('isolation')} · judge: {report.sandbox.get('judge', '')}"
        + (f" · judge peak RSS {report.peak_rss_mb:.0f} MB" if report.peak_rss_mb else "")
        + (" · the judge's verdict for this very script and settings, reused" if report.cached else ""),
        highlight=False,
    )


def check(
    script: Annotated[Path, typer.Argument(help="A benchmark script defining build(seed, scale).")],
    seeds: Annotated[int, typer.Option("--seeds", min=1, max=1024, help="How many seeds to check.")] = 8,
    first_seed: Annotated[int, typer.Option("--first-seed", min=0, help="Check seeds from this one on.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    settings_file: Annotated[Path | None, typer.Option("--settings", help="YAML overriding check thresholds.")] = None,
) -> None:
    """Build SCRIPT for N seeds in the sandbox, then judge it: geometry, physics, solvability."""
    path = _script(script)
    settings = _settings(settings_file)
    report = _checker(settings).check(path, list(range(first_seed, first_seed + seeds)))
    if as_json:
        sys.stdout.write(report.model_dump_json(exclude={"outcomes"}) + "\n")
        for note in report.notes:
            error_console.print(f"note: {note}", highlight=False)
    else:
        _print_report(report)
    raise typer.Exit(EXIT_OK if report.passed else EXIT_FAILED)


def _size(value: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{2,4})x(\d{2,4})", value)
    if not match:
        fail_usage(f"--size must look like 640x480, got {value!r}")
    width, height = int(match.group(1)), int(match.group(2))
    if not (16 <= width <= 3840 and 16 <= height <= 2160):
        fail_usage(f"--size {value} is outside 16x16..3840x2160")
    return width, height


def render(
    script: Annotated[Path, typer.Argument(help="A benchmark script defining build(seed, scale).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the PNG views (and video.mp4).")],
    seed: Annotated[int, typer.Option("--seed", min=0)] = 0,
    size: Annotated[str, typer.Option("--size", help="WIDTHxHEIGHT of each view.")] = "640x480",
    video: Annotated[bool, typer.Option("--video", help="Also write an MP4 of the simulated run.")] = False,
    solution: Annotated[
        bool, typer.Option("--solution", help="Show the script's reference solution() in the scene.")
    ] = False,
    settings_file: Annotated[Path | None, typer.Option("--settings", help="YAML overriding settings.")] = None,
) -> None:
    """Render 24 views (8 azimuths × 3 elevations) of one seed, zones drawn, headless."""
    from benchgen_dagster.models.reports import Check

    path = _script(script)
    width, height = _size(size)
    settings = _settings(settings_file)
    if out.exists() and not out.is_dir():
        fail_usage(f"--out {out} exists and is not a folder")
    outcome, written = _checker(settings).render(path, seed, out, width, height, video, with_solution=solution)
    failed = [
        r
        for r in outcome.results
        if not r.passed and r.check in (Check.SCRIPT_RUNS, Check.SOLID_VALID, Check.MJCF_LOADS, Check.SOLVABLE)
    ]
    for result in failed:
        error_console.print(f"[red]✗[/] {result.check.value}: {escape(result.message)}", highlight=False)
    pictures = [p for p in written if p.suffix == ".png"]
    if not pictures:
        error_console.print("[bold red]nothing rendered[/]")
        raise typer.Exit(EXIT_FAILED)
    console.print(f"wrote {len(pictures)} views{' and video.mp4' if video else ''} to {out}", highlight=False)
    raise typer.Exit(EXIT_OK)


def library_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List the built-in benchmark families."""
    from benchgen_dagster.library import families

    found = families()
    if as_json:
        sys.stdout.write(
            json.dumps([{"name": f.name, "tier": f.tier, "description": f.description} for f in found]) + "\n"
        )
        return
    table = Table(title="benchgen library")
    table.add_column("family", style="bold")
    table.add_column("tier", justify="center")
    table.add_column("description")
    for fam in found:
        table.add_row(fam.name, str(fam.tier), fam.description)
    console.print(table)


def library_check(
    seeds: Annotated[int, typer.Option("--seeds", min=1, max=1024, help="Seeds per family.")] = 8,
    settings_file: Annotated[Path | None, typer.Option("--settings", help="YAML overriding check thresholds.")] = None,
) -> None:
    """Check every built-in family in the sandbox and print one summary line each."""
    from benchgen_dagster.library import families

    checker = _checker(_settings(settings_file))
    table = Table(title=f"benchgen library check · {seeds} seeds per family")
    for column in ("family", "tier", "verdict", "failed checks", "wall s", "peak RSS MB"):
        table.add_column(column)
    all_passed = True
    for fam in families():
        # No spinner: its thread would be running when the sandbox forks.
        console.print(f"checking {fam.name} …", highlight=False)
        report = checker.check(fam.path, list(range(seeds)))
        all_passed &= report.passed
        failed = sorted({f.check for f in report.failures})
        table.add_row(
            fam.name,
            str(fam.tier),
            "[green]passed[/]" if report.passed else "[red]FAILED[/]",
            ", ".join(failed) or "-",
            f"{report.wall_s:.1f}",
            f"{report.peak_rss_mb:.0f}",
        )
        for failure in report.failures[:5]:
            error_console.print(
                f"[red]✗[/] {fam.name} seed {failure.seed}: {failure.check}: {escape(failure.message)}",
                highlight=False,
            )
    console.print(table)
    console.print(f"runs and reports are kept under {checker.home / 'runs'}", highlight=False)
    raise typer.Exit(EXIT_OK if all_passed else EXIT_FAILED)


def library_export(
    family_name: Annotated[str, typer.Argument(metavar="FAMILY")],
    dest: Annotated[Path, typer.Argument(help="A .py file, or a folder to write FAMILY.py into.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a family's script to DEST, as a starting point for a new benchmark."""
    from benchgen_dagster.library import family

    try:
        fam = family(family_name)
    except KeyError as error:
        fail_usage(str(error.args[0]))
    target = dest / f"{fam.name}.py" if dest.is_dir() else dest
    if target.exists() and not force:
        fail_usage(f"{target} exists; pass --force to overwrite it")
    if not target.parent.is_dir():
        fail_usage(f"folder does not exist: {target.parent}")
    target.write_text(fam.source())
    console.print(f"wrote {fam.name} (tier {fam.tier}) to {target}", highlight=False)
