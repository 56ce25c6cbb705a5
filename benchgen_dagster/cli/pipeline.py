"""The pipeline's commands, through the Dagster instance under BENCHGEN_HOME: `generate`, `list`, `show`,
`promote`, `reject`, `export`, `audit` and `gc`.

`list` and `show` read the registry through the resources, and the dataset folder: they build no Dagster
Definitions, so they import neither pandas nor the stages.
"""

import json
import shutil
import sys
import threading
from contextlib import suppress
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from benchgen_dagster.cli.home import existing_home, require_services, usable_home
from benchgen_dagster.cli.output import EXIT_FAILED, EXIT_OK, console, error_console, fail, fail_usage, one_line


def _candidate(identifier: str):  # type: ignore[no-untyped-def]
    from benchgen_dagster.runner import registry

    candidate = registry().find(identifier)
    if candidate is None:
        fail_usage(f"no candidate or benchmark with id {identifier!r} (see `benchgen list`)")
    return candidate


def _status_table(candidates: list, title: str, deviations: dict[str, list[str]] | None = None) -> Table:
    """A row per candidate; with `deviations`, a column of what each plan changed from its request, and why."""
    from benchgen_dagster.progress import STATUS_COLOURS

    table = Table(title=title)
    for column in ("candidate", "status", "stage", "benchmark", "reason", *(("deviations",) if deviations else ())):
        table.add_column(column, overflow="fold")
    for c in candidates:
        colour = STATUS_COLOURS.get(c.status.value, "red")
        row = [c.key, f"[{colour}]{c.status.value}[/]", c.stage, c.benchmark_id or "", escape(c.reason[:300])]
        if deviations:
            row.append(escape("\n".join(deviations.get(c.key, [])) or "none"))
        table.add_row(*row)
    return table


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
    max_rounds: Annotated[
        int | None,
        typer.Option(
            "--max-rounds",
            help="Coder rounds per candidate (a failed check or a rejected review costs one; default 3); "
            "with --batch, for the requests that do not say.",
        ),
    ] = None,
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
        if max_rounds is not None:
            requests = [
                BenchmarkRequest.model_validate({"max_rounds": max_rounds, **r.model_dump(exclude_none=True)})
                for r in requests
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
    home = usable_home()
    # The warm builder and judge pay their imports while this command pays its own (the runs join them).
    from benchgen_dagster.models.settings import CheckSettings
    from benchgen_dagster.worker.warm import prewarm_for

    prewarm_for(home, CheckSettings().sandbox)
    # The rows are there from the first second: loading the definitions and the services takes a while.
    with BatchProgress(console, labels_for(requests)) as board:
        require_services()
        from benchgen_dagster.defs.planning import plan_deviations
        from benchgen_dagster.runner import dagster_instance, dataset_paths, registry
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
    try:
        deviations = plan_deviations([c.key for c in final], dagster_instance())
    except Exception as error:  # the benchmarks are made; only the table's deviations column is missing
        error_console.print(f"[yellow]warning:[/] the plans' deviations could not be read: {escape(one_line(error))}")
        deviations = {}
    console.print(_status_table(final, "benchgen generate", deviations if any(deviations.values()) else None))
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


def list_candidates(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List every candidate: its status, stage, benchmark id and why it was rejected."""
    from benchgen_dagster.runner import registry

    existing_home()
    require_services()
    candidates = registry().all()
    if as_json:
        sys.stdout.write(json.dumps([c.model_dump(mode="json") for c in candidates], indent=1) + "\n")
        return
    console.print(_status_table(candidates, f"{len(candidates)} candidate(s)"))


def show(identifier: Annotated[str, typer.Argument(metavar="ID", help="A candidate key or benchmark id.")]) -> None:
    """Show one candidate or benchmark: request, status, and the manifest when promoted."""
    from benchgen_dagster.paths import MANIFEST, dataset_dir

    existing_home()
    require_services()
    candidate = _candidate(identifier)
    console.print(f"[bold]{candidate.key}[/] · {candidate.status.value} · stage {candidate.stage}", highlight=False)
    console.print(f"prompt: {escape(candidate.request.prompt)}\nmodel: {candidate.model}", highlight=False)
    if candidate.reason:
        console.print(f"reason: {escape(candidate.reason)}", highlight=False)
    manifest = dataset_dir() / (candidate.benchmark_id or "-") / MANIFEST
    if candidate.benchmark_id and manifest.is_file():
        console.print(f"benchmark: {manifest.parent}", highlight=False)
        console.print(escape(manifest.read_text()), highlight=False)


def promote(identifier: Annotated[str, typer.Argument(metavar="ID", help="A candidate awaiting approval.")]) -> None:
    """Approve a candidate held by --require-approval and promote it into the dataset."""
    from benchgen_dagster.models.registry import CandidateStatus
    from benchgen_dagster.runner import approve_and_promote

    existing_home()
    require_services()
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


def reject(
    identifier: Annotated[str, typer.Argument(metavar="ID", help="A candidate key or benchmark id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the registry).")],
) -> None:
    """Reject a candidate; a promoted one is withdrawn from the dataset (kept under BENCHGEN_HOME/withdrawn)."""
    from benchgen_dagster.runner import withdraw

    if not reason.strip():
        fail_usage("--reason must say why")
    existing_home()
    require_services()
    candidate = _candidate(identifier)
    if candidate.rejected_by_curator:
        fail_usage(f"{candidate.key} is already rejected: {candidate.reason}")
    try:
        moved = withdraw(candidate.key, reason.strip())
    except Exception as error:
        fail(f"reject recorded, but withdrawing the benchmark failed: {one_line(error)}")
    console.print(f"rejected {candidate.key}" + (f"; withdrawn to {moved}" if moved else ""), highlight=False)


def export(
    dest: Annotated[Path, typer.Argument(help="A new (or empty) folder for a copy of the dataset.")],
    export_format: Annotated[
        str, typer.Option("--format", help="`folder` (the benchmark folders and index.parquet) or `hf`.")
    ] = "folder",
    withhold: Annotated[
        bool | None,
        typer.Option(
            "--withhold-solutions/--with-solutions",
            help="Leave the reference solutions out, for an evaluation set (default: withheld for hf only).",
        ),
    ] = None,
    license_id: Annotated[
        str | None, typer.Option("--license", help="The licence the hf card states (default: cc-by-4.0).")
    ] = None,
    test_percent: Annotated[
        int, typer.Option("--test-percent", min=0, max=100, help="The share of benchmarks in hf's test split.")
    ] = 20,
) -> None:
    """Copy the promoted dataset to DEST: its folders and index.parquet, or (`--format hf`) a dataset that
    Hugging Face `datasets.load_dataset(DEST)` loads, with a dataset card."""
    existing_home()
    if export_format not in ("folder", "hf"):
        fail_usage(f"--format must be folder or hf, not {export_format}")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        fail_usage(f"{dest} exists and is not an empty folder")
    if export_format == "hf":
        _export_hf(dest, True if withhold is None else withhold, license_id, test_percent)
        return
    from benchgen_dagster.dataset_runs import export_dataset

    try:
        count = export_dataset(dest, withhold=bool(withhold))
    except (OSError, ValueError) as error:
        fail(f"export failed: {one_line(error)}")
    kept = " (solutions withheld)" if withhold else ""
    console.print(f"exported {count} benchmark(s) to {dest}{kept}", highlight=False)


def _export_hf(dest: Path, withhold: bool, license_id: str | None, test_percent: int) -> None:
    from benchgen_dagster.hf_export import DEFAULT_LICENSE, ExportError, export_hf
    from benchgen_dagster.paths import dataset_dir

    try:
        counts = export_hf(dataset_dir(), dest, withhold, license_id or DEFAULT_LICENSE, test_percent)
    except ExportError as error:
        fail_usage(str(error))
    except (OSError, ValueError) as error:
        fail(f"export failed: {one_line(error)}")
    splits = ", ".join(f"{split} {rows}" for split, rows in counts.items())
    withheld = "solutions withheld" if withhold else "with solutions"
    console.print(f"exported {sum(counts.values())} rows ({splits}; {withheld}) to {dest}", highlight=False)


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
    from benchgen_dagster.dataset_runs import audit as run_audit
    from benchgen_dagster.defs.audit import AuditSeedsError

    existing_home()
    require_services()
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

    home = existing_home()
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
