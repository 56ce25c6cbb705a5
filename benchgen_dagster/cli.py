"""`benchgen`: check, render and browse benchmark scripts from the command line.

Exit codes: 0 all good, 1 a check failed, 2 the command was used wrongly (missing file, bad option).
Bad input is one line on stderr, never a traceback. Heavy libraries are imported inside commands,
so `benchgen --help` and `benchgen library list` start fast.
"""

import atexit
import json
import os
import re
import shutil
import sys
import threading
from contextlib import suppress
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from benchgen_dagster.models.reports import Check, CheckReport

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="benchgen: generate and check mechanical-engineering benchmarks.",
)
library_app = typer.Typer(no_args_is_help=True, help="The built-in benchmark families.")
app.add_typer(library_app, name="library")
agent_app = typer.Typer(no_args_is_help=True, help="The agents: planner, coder and reviewer.")
app.add_typer(agent_app, name="agent")
skills_app = typer.Typer(no_args_is_help=True, help="The skills the learner writes for the coder, and their versions.")
app.add_typer(skills_app, name="skills")

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


def _home() -> Path:
    from benchgen_dagster.paths import benchgen_home

    try:
        return benchgen_home()
    except OSError as error:
        fail_usage(f"cannot use BENCHGEN_HOME ({error.filename}): {error.strerror}")


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
        return Checker(settings, home=_home())
    except SandboxUnavailable as error:
        fail(str(error), EXIT_USAGE)


def _print_report(report: CheckReport) -> None:
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
        row = [_mark(cells.get(seed), seed in cells) for seed in report.seeds]
        row.append(_mark(cells.get(None), None in cells))
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


def _mark(passed: bool | None, ran: bool = True) -> str:
    if passed is None:
        return "[dim]·[/]" if not ran else "[yellow]not run[/]"
    return "[green]✓[/]" if passed else "[bold red]✗[/]"


@app.command()
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


@app.command()
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


@agent_app.command("run")
def agent_run(
    prompt: Annotated[str, typer.Argument(help="What benchmark to make, in plain words.")],
    workspace: Annotated[Path, typer.Option("--workspace", help="Folder the session works in.")],
    model: Annotated[
        str | None, typer.Option("--model", help="'offline' or provider:model (default: $BENCHGEN_MODEL or offline).")
    ] = None,
    plan: Annotated[Path | None, typer.Option("--plan", help="Use this plan.md instead of the planner's.")] = None,
    feedback: Annotated[str, typer.Option("--feedback", help="Guidance for the coder and the reviewer.")] = "",
    skills: Annotated[
        Path | None, typer.Option("--skills", help="Folder of <name>/SKILL.md offered to the coder.")
    ] = None,
    max_rounds: Annotated[int, typer.Option("--max-rounds", min=1, max=10)] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print the session result as JSON.")] = False,
) -> None:
    """Run one generation session: planner → coder ⇄ worker → reviewer."""
    from benchgen_dagster.agent.configuration import SessionConfig, default_model
    from benchgen_dagster.agent.models import ModelConfigError, chat_model
    from benchgen_dagster.agent.session import SessionInputError, run_session, validate_inputs
    from benchgen_dagster.agent.state import ROLES
    from benchgen_dagster.runner import tracing_settings

    if workspace.exists() and not workspace.is_dir():
        fail_usage(f"--workspace {workspace} exists and is not a folder")
    if plan is not None and not plan.is_file():
        fail_usage(f"plan file not found: {plan}")
    config = SessionConfig(
        prompt=prompt,
        workspace=workspace,
        model=model or default_model(),
        plan_file=plan,
        feedback=feedback,
        max_rounds=max_rounds,
        skills_dir=skills,
        tracing=tracing_settings(),
    )
    try:
        validate_inputs(config)
        models = {role: chat_model(config.model, role) for role in ROLES}
    except (SessionInputError, ModelConfigError) as error:
        fail_usage(str(error))
    try:
        result = run_session(config, models=models, home=_home())
    except Exception as error:  # the session's own failures are results; this is the machinery failing
        fail(f"the session failed: {one_line(error)}")
    if as_json:
        sys.stdout.write(result.model_dump_json() + "\n")
    else:
        colour = "green" if result.decision == "approved" else "red"
        tokens = ", ".join(
            f"{role} {u.get('input_tokens', 0)}/{u.get('output_tokens', 0)}" for role, u in result.usage.items()
        )
        console.print(
            f"[bold {colour}]{result.decision}[/] after {result.rounds} round(s) · checks "
            f"{'passed' if result.checks_passed else 'failed: ' + ', '.join(result.failed_checks)} · "
            f"tokens in/out {escape(tokens) or '-'} · est. ${result.estimated_cost_usd:.4f} · {result.wall_s:.0f} s",
            highlight=False,
            soft_wrap=True,
        )
        if result.reason:
            console.print(escape(result.reason), highlight=False, soft_wrap=True)
        console.print(f"workspace: {result.workspace}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_OK if result.decision == "approved" else EXIT_FAILED)


@library_app.command("list")
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


@library_app.command("check")
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


@library_app.command("export")
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


# ---- the pipeline: generate, list, show, promote, reject, export -------------------------------------


def _existing_home() -> Path:
    """BENCHGEN_HOME for commands that read what earlier runs made: it must already exist."""
    import os

    configured = os.environ.get("BENCHGEN_HOME")
    if configured and not Path(configured).expanduser().is_dir():
        fail_usage(f"BENCHGEN_HOME {configured} does not exist: nothing has been generated there")
    return _home()


def _services() -> None:
    from benchgen_dagster.runner import check_services
    from benchgen_dagster.worker.sandbox import SandboxUnavailable

    try:
        check_services()
    except SandboxUnavailable as error:
        fail(str(error), EXIT_USAGE)
    except ConnectionError as error:
        fail(str(error))
    except Exception as error:  # the Dagster instance's storage (PostgreSQL under DAGSTER_HOME)
        fail(f"the Dagster instance cannot be used: {one_line(error)}")


def _candidate(identifier: str):  # type: ignore[no-untyped-def]
    from benchgen_dagster.runner import registry

    candidate = registry().find(identifier)
    if candidate is None:
        fail_usage(f"no candidate or benchmark with id {identifier!r} (see `benchgen list`)")
    return candidate


def _status_table(candidates: list, title: str) -> Table:
    from benchgen_dagster.progress import STATUS_COLOURS

    table = Table(title=title)
    for column in ("candidate", "status", "stage", "benchmark", "reason"):
        table.add_column(column, overflow="fold")
    for c in candidates:
        colour = STATUS_COLOURS.get(c.status.value, "red")
        table.add_row(c.key, f"[{colour}]{c.status.value}[/]", c.stage, c.benchmark_id or "", escape(c.reason[:300]))
    return table


@app.command()
def generate(
    prompt: Annotated[str | None, typer.Argument(help="What benchmarks to make, in plain words.")] = None,
    batch: Annotated[
        Path | None, typer.Option("--batch", help="A YAML list of requests (prompt, count, tier, model, ...).")
    ] = None,
    count: Annotated[int, typer.Option("--count", help="How many candidates (1-100).")] = 1,
    tier: Annotated[int | None, typer.Option("--tier", help="1 (spatial) or 2 (mechanisms).")] = None,
    model: Annotated[str | None, typer.Option("--model", help="'offline' or provider:model.")] = None,
    require_approval: Annotated[
        bool, typer.Option("--require-approval", help="Hold candidates that pass for `benchgen promote`.")
    ] = False,
) -> None:
    """Generate benchmarks: every candidate runs through the Dagster assets, request to promotion."""
    from pydantic import ValidationError

    from benchgen_dagster.agent.models import ModelConfigError, chat_model
    from benchgen_dagster.defs.requests import RequestError, read_batch_file
    from benchgen_dagster.models.registry import BenchmarkRequest, CandidateStatus
    from benchgen_dagster.progress import BatchProgress, labels_for

    if (prompt is None) == (batch is None):
        fail_usage("give either a PROMPT or --batch FILE")
    try:
        if batch is not None:
            requests = read_batch_file(batch)
        else:
            requests = [
                BenchmarkRequest(prompt=prompt, count=count, tier=tier, model=model, require_approval=require_approval)
            ]
    except ValidationError as error:
        first = error.errors(include_input=False)[0]
        fail_usage(f"{'.'.join(str(p) for p in first['loc']) or 'request'}: {first['msg']}")
    except RequestError as error:
        fail_usage(str(error))
    for wanted in {r.model for r in requests if r.model}:
        try:
            chat_model(wanted, "planner")
        except ModelConfigError as error:
            fail_usage(str(error))
    home = _home()
    # The warm builder and judge pay their imports while this command pays its own (the runs join them).
    from benchgen_dagster.models.settings import CheckSettings
    from benchgen_dagster.worker.warm import prewarm_for

    prewarm_for(home, CheckSettings().sandbox)
    # The rows are there from the first second: loading the definitions and the services takes a while.
    with BatchProgress(console, labels_for(requests)) as board:
        _services()
        from benchgen_dagster.runner import dataset_paths, registry
        from benchgen_dagster.runner import generate as run_generate

        stop = threading.Event()

        def follow() -> None:
            while not stop.wait(0.5):
                with suppress(Exception):  # a registry busy for a moment: the next refresh reads it
                    board.refresh(registry().get)

        watcher = threading.Thread(target=follow, daemon=True)

        def started(made: list) -> None:
            board.follow(made)
            watcher.start()

        try:
            final = run_generate(requests, on_start=started)
        except Exception as error:  # the machinery failing, not a candidate: say so in one line
            fail(f"generate failed: {one_line(error)}")
        finally:
            stop.set()
    console.print(_status_table(final, "benchgen generate"))
    promoted = [c for c in final if c.status == CandidateStatus.PROMOTED]
    held = [c for c in final if c.status == CandidateStatus.AWAITING_APPROVAL]
    dataset, gallery = dataset_paths()
    console.print(
        f"{len(promoted)} promoted, {len(held)} awaiting approval, {len(final) - len(promoted) - len(held)} "
        f"rejected or failed of {len(final)}",
        highlight=False,
    )
    console.print(f"dataset: {dataset}\ngallery: {gallery}", highlight=False, soft_wrap=True)
    _learn_if_due()
    raise typer.Exit(EXIT_OK if promoted or held else EXIT_FAILED)


def _learn_if_due() -> None:
    """What the skill learning sensor does under the daemon; a failure here costs no benchmark already made."""
    from benchgen_dagster.runner import dagster_instance, learn_if_due

    try:
        fresh, learned = learn_if_due(dagster_instance())
    except Exception as error:  # the benchmarks are made; the learner can run again with `benchgen skills learn`
        error_console.print(f"[yellow]warning:[/] the skill learner did not run: {escape(one_line(error))}")
        return
    if learned is not None:
        console.print(
            f"skills: learned from {fresh} new journal(s): {learned.get('published', 0)} published, "
            f"{learned.get('refused', 0)} refused (`benchgen skills list`)",
            highlight=False,
        )


@app.command("list")
def list_candidates(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List every candidate: its status, stage, benchmark id and why it was rejected."""
    from benchgen_dagster.runner import registry

    _existing_home()
    _services()
    candidates = registry().all()
    if as_json:
        sys.stdout.write(json.dumps([c.model_dump(mode="json") for c in candidates], indent=1) + "\n")
        return
    console.print(_status_table(candidates, f"{len(candidates)} candidate(s)"))


@app.command()
def show(identifier: Annotated[str, typer.Argument(metavar="ID", help="A candidate key or benchmark id.")]) -> None:
    """Show one candidate or benchmark: request, status, and the manifest when promoted."""
    from benchgen_dagster.defs.dataset import MANIFEST, dataset_dir

    _existing_home()
    _services()
    candidate = _candidate(identifier)
    console.print(f"[bold]{candidate.key}[/] · {candidate.status.value} · stage {candidate.stage}", highlight=False)
    console.print(f"prompt: {escape(candidate.request.prompt)}\nmodel: {candidate.model}", highlight=False)
    if candidate.reason:
        console.print(f"reason: {escape(candidate.reason)}", highlight=False)
    manifest = dataset_dir() / (candidate.benchmark_id or "-") / MANIFEST
    if candidate.benchmark_id and manifest.is_file():
        console.print(f"benchmark: {manifest.parent}", highlight=False)
        console.print(escape(manifest.read_text()), highlight=False)


@app.command()
def promote(identifier: Annotated[str, typer.Argument(metavar="ID", help="A candidate awaiting approval.")]) -> None:
    """Approve a candidate held by --require-approval and promote it into the dataset."""
    from benchgen_dagster.models.registry import CandidateStatus
    from benchgen_dagster.runner import approve_and_promote

    _existing_home()
    _services()
    candidate = _candidate(identifier)
    if candidate.status != CandidateStatus.AWAITING_APPROVAL:
        fail_usage(f"{candidate.key} is {candidate.status.value}, not awaiting approval")
    try:
        result = approve_and_promote(candidate.key)
    except Exception as error:  # the machinery failing (database, bucket, instance): one line
        fail(f"promote failed: {one_line(error)}")
    if result.status != CandidateStatus.PROMOTED:
        fail(f"{candidate.key} was not promoted: {result.reason}")
    console.print(f"promoted {candidate.key} as {result.benchmark_id}", highlight=False)


@app.command()
def reject(
    identifier: Annotated[str, typer.Argument(metavar="ID", help="A candidate key or benchmark id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the registry).")],
) -> None:
    """Reject a candidate; a promoted one is withdrawn from the dataset (kept under BENCHGEN_HOME/withdrawn)."""
    from benchgen_dagster.runner import withdraw

    if not reason.strip():
        fail_usage("--reason must say why")
    _existing_home()
    _services()
    candidate = _candidate(identifier)
    if candidate.rejected_by_curator:
        fail_usage(f"{candidate.key} is already rejected: {candidate.reason}")
    try:
        moved = withdraw(candidate.key, reason.strip())
    except Exception as error:
        fail(f"reject recorded, but withdrawing the benchmark failed: {one_line(error)}")
    console.print(f"rejected {candidate.key}" + (f"; withdrawn to {moved}" if moved else ""), highlight=False)


@app.command()
def export(dest: Annotated[Path, typer.Argument(help="A new (or empty) folder for a copy of the dataset.")]) -> None:
    """Copy the promoted dataset (benchmark folders and index.parquet) to DEST."""
    from benchgen_dagster.runner import export_dataset

    _existing_home()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        fail_usage(f"{dest} exists and is not an empty folder")
    try:
        count = export_dataset(dest)
    except (OSError, ValueError) as error:
        fail(f"export failed: {one_line(error)}")
    console.print(f"exported {count} benchmark(s) to {dest}", highlight=False)


@app.command()
def audit(
    seeds: Annotated[
        int, typer.Option("--seeds", min=1, max=1024, help="Fresh seeds per benchmark (never the generation seeds).")
    ] = 32,
    first_seed: Annotated[
        int | None, typer.Option("--first-seed", min=0, help="The first audit seed (default: past every checked one).")
    ] = None,
    quarantine: Annotated[
        bool, typer.Option("--quarantine", help="Move failing benchmarks out of the dataset (kept, never deleted).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the audit as JSON.")] = False,
) -> None:
    """Re-check every promoted benchmark on fresh seeds, solvability included; exit 1 if any fails."""
    from benchgen_dagster.defs.audit import AuditSeedsError
    from benchgen_dagster.runner import audit as run_audit

    _existing_home()
    _services()
    try:
        found = run_audit(seeds, -1 if first_seed is None else first_seed, quarantine)
    except AuditSeedsError as error:
        fail_usage(str(error))
    except Exception as error:  # the machinery failing: one line
        fail(f"the audit failed: {one_line(error)}")
    rows = list(found["results"])  # type: ignore[call-overload]
    if as_json:
        console.print_json(json.dumps(found))
    else:
        table = Table(title=f"benchgen audit · {seeds} fresh seeds per benchmark")
        for column in ("benchmark", "family", "seeds", "solvable", "result", "first failure"):
            table.add_column(column)
        for row in rows:
            result = "[green]pass[/]" if row["passed"] else "[red]FAIL[/]"
            if row.get("quarantined"):
                result += " → quarantined"
            table.add_row(
                row["benchmark_id"],
                str(row["family"]),
                f"{row['seeds'][0]}–{row['seeds'][-1]}",
                f"{row['solvable_seeds']}/{len(row['seeds'])}",
                result,
                escape(row["first_failure"][:100]),
            )
        console.print(table)
        if not rows:
            console.print("the dataset is empty: nothing to audit", highlight=False)
        else:
            console.print(f"{found['passed']}/{found['benchmarks']} passed in {found['wall_s']} s", highlight=False)
    raise typer.Exit(EXIT_OK if all(r["passed"] for r in rows) else EXIT_FAILED)


@app.command()
def gc(
    keep: Annotated[
        int | None, typer.Option("--keep", min=0, help="Sandbox runs to keep (default: the retention).")
    ] = None,
    older_than: Annotated[
        float | None, typer.Option("--older-than", min=0, help="Also remove runs older than this many days.")
    ] = None,
) -> None:
    """Remove old sandbox runs (BENCHGEN_HOME/runs), never one in use, and decompositions made before the judge."""
    from benchgen_dagster.models.settings import RetentionSettings
    from benchgen_dagster.worker.runs import folder_bytes, prune_runs

    home = _existing_home()
    runs = home / "runs"
    before = folder_bytes(runs) if runs.is_dir() else 0
    removed = prune_runs(home, RetentionSettings(), keep=keep, max_age_days=older_than)
    # Made by untrusted processes before the trusted judge existed: never read again.
    legacy = home / "cache" / "decompositions"
    legacy_bytes = folder_bytes(legacy) if legacy.is_dir() else 0
    shutil.rmtree(legacy, ignore_errors=True)
    freed = before - (folder_bytes(runs) if runs.is_dir() else 0) + legacy_bytes
    left = len([p for p in runs.iterdir() if p.is_dir()]) if runs.is_dir() else 0
    console.print(f"removed {len(removed)} run(s), {left} kept; freed {freed / 2**20:.1f} MB", highlight=False)


# ---- skills: list, show, diff, learn -------------------------------------------------------------


def _skill_store():  # type: ignore[no-untyped-def]
    from benchgen_dagster.agent.skills import SkillStore

    return SkillStore(_existing_home())


def _written_with(name: str) -> dict[str, list[str]]:
    """Benchmarks in the dataset by the version of skill `name` their script was written with."""
    import yaml

    from benchgen_dagster.defs.dataset import dataset_dir

    written: dict[str, list[str]] = {}
    for manifest in sorted(dataset_dir().glob("*/benchmark.yaml")):
        try:
            versions = (yaml.safe_load(manifest.read_text()) or {}).get("provenance", {}).get("skill_versions") or {}
        except (OSError, yaml.YAMLError, AttributeError):
            continue
        if name in versions:
            written.setdefault(str(versions[name]).split(" ")[0], []).append(manifest.parent.name)
    return written


@skills_app.command("list")
def skills_list(as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False) -> None:
    """Every skill: its current version, how many versions, the journals it came from."""
    store = _skill_store()
    rows = []
    for name in store.names():
        versions = store.versions(name)
        rows.append(
            {
                "name": name,
                "current": store.label(name),
                "versions": len(versions),
                "evidence": versions[-1].evidence if versions else [],
                "description": versions[-1].description if versions else "",
            }
        )
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=1) + "\n")
        return
    table = Table(title=f"{len(rows)} skill(s) in {store.current_dir}")
    for column in ("skill", "current", "versions", "evidence", "description"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["name"], row["current"], str(row["versions"]), ", ".join(row["evidence"]), row["description"])
    console.print(table)


@skills_app.command("show")
def skills_show(
    name: Annotated[str, typer.Argument(help="A skill's name (see `benchgen skills list`).")],
    version: Annotated[int | None, typer.Option("--version", help="A recorded version (default: current).")] = None,
) -> None:
    """A skill's SKILL.md, its versions, and which benchmarks were written with each version."""
    from benchgen_dagster.agent.skills import SkillNotFound

    store = _skill_store()
    try:
        text = store.text(name, version)
    except SkillNotFound as error:
        fail_usage(str(error))
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    written = _written_with(name)
    console.print(f"\n[bold]{name}[/]: current {store.label(name)}", highlight=False)
    for v in store.versions(name):
        benchmarks = written.get(f"v{v.version}", [])
        console.print(
            f"  v{v.version}  {v.created}  {v.sha256[:12]}  by {v.source}  evidence: {', '.join(v.evidence)}  "
            f"benchmarks written with it: {', '.join(benchmarks) or 'none'}",
            highlight=False,
            soft_wrap=True,
        )


@skills_app.command("diff")
def skills_diff(
    name: Annotated[str, typer.Argument(help="A skill's name.")],
    old: Annotated[int | None, typer.Option("--from", help="The older version (default: the one before --to).")] = None,
    new: Annotated[int | None, typer.Option("--to", help="The newer version (default: the newest).")] = None,
) -> None:
    """A unified diff between two versions of a skill."""
    from benchgen_dagster.agent.skills import SkillNotFound

    try:
        diff = _skill_store().diff(name, old, new)
    except SkillNotFound as error:
        fail_usage(str(error))
    sys.stdout.write(diff or f"no difference between the versions of {name}\n")


@skills_app.command("learn")
def skills_learn() -> None:
    """Run the skill learner now over every journal (what the sensor and the weekly schedule do)."""
    from benchgen_dagster.runner import dagster_instance, learn

    _existing_home()
    _services()
    try:
        ok, metadata = learn(dagster_instance())
    except Exception as error:  # the machinery failing: one line
        fail(f"the skill learner failed: {one_line(error)}")
    if not ok:
        fail(f"the skill learner failed: {metadata.get('error', 'unknown error')}")
    console.print(
        f"learned from {metadata.get('learned_from', 0)} journal(s): {metadata.get('published', 0)} published, "
        f"{metadata.get('refused', 0)} refused",
        highlight=False,
    )
    console.print(str(metadata.get("proposals", "")), highlight=False, soft_wrap=True)


def main() -> None:
    """The `benchgen` command. It leaves without tearing its interpreter down: the thousands of modules a
    command imports (Dagster, LangChain, pandas) took 1.3 s of every command to unload one by one. What
    leaving must still do is done: other threads are joined, the atexit handlers run (tracing flushes its
    spans there), and the streams are flushed."""
    try:
        app()
    except SystemExit as leaving:
        code = leaving.code
    else:
        code = 0
    if isinstance(code, str):  # a message, as sys.exit(message) prints it
        print(code, file=sys.stderr)
    _leave(code if isinstance(code, int) else 0 if code is None else 1)


def _leave(code: int) -> NoReturn:
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
