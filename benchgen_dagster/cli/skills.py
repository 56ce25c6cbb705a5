"""The skills' commands: `skills list`, `skills show`, `skills diff` and `skills learn`."""

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from benchgen_dagster.cli.home import existing_home, require_services
from benchgen_dagster.cli.output import console, fail, fail_usage, one_line


def _skill_store():  # type: ignore[no-untyped-def]
    """The skills as every host sees them: with a bucket (production), pulled from it first, so a host
    where no step has run (the control host) shows them too."""
    from benchgen_dagster import runner
    from benchgen_dagster.defs.skills import skill_store

    existing_home()
    return skill_store(runner.registry(), runner.artifacts())


def _written_with(name: str) -> dict[str, list[str]]:
    """Benchmarks in the dataset by the version of skill `name` their script was written with."""
    from benchgen_dagster.models.manifest import BenchmarkManifest, ManifestError
    from benchgen_dagster.paths import MANIFEST, dataset_dir

    written: dict[str, list[str]] = {}
    for manifest in sorted(dataset_dir().glob(f"*/{MANIFEST}")):
        try:
            versions = BenchmarkManifest.read(manifest).provenance.skill_versions
        except (OSError, ManifestError):
            continue
        if name in versions:
            written.setdefault(str(versions[name]).split(" ")[0], []).append(manifest.parent.name)
    return written


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


def skills_learn() -> None:
    """Run the skill learner now over every journal (what the sensor and the weekly schedule do)."""
    from benchgen_dagster.runner import dagster_instance, learn

    existing_home()
    require_services()
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
