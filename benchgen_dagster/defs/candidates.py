"""What every per-candidate stage shares: the partitions, the candidate's folders, and UI metadata."""

import base64
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import dagster as dg

from benchgen_dagster.defs.artifacts import ArtifactStoreResource
from benchgen_dagster.defs.metadata import table
from benchgen_dagster.models.reports import CheckReport
from benchgen_dagster.paths import benchgen_home
from benchgen_dagster.worker.versions import VERDICT_CODE, source_digest

# One dynamic partition per benchmark candidate: `<request id>-v<variant>`.
candidate_partitions = dg.DynamicPartitionsDefinition(name="benchmark_candidates")

# Retries are declared, not looped: a provider hiccup or a sandbox that could not start is retried with
# exponential backoff; a refusal or a failed check raises dg.Failure(allow_retries=False) and is final.
MODEL_RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.FULL)
SANDBOX_RETRY = dg.RetryPolicy(max_retries=1, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.FULL)


# Declarative automation for the per-candidate stages after the script: when an upstream output changes
# (a curator re-materializes cad_script, say), the stale stages run again, but never past a failed
# blocking check.
REFRESH_WHEN_STALE = dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()


# The code a stage runs, beside its own module: the model stages run the agents (their prompts, the
# offline policy, the library they read); the sandbox stages run the worker and the judge.
AGENT_CODE = ("agent", "library", "models")
SANDBOX_CODE = VERDICT_CODE


def code_version(stage_module: str, *code: str) -> str:
    """`<12 hex>`: a hash of the stage's module (`__name__`) and of the package's files or folders
    `code`. Changed code shows as a new code version in the lineage, and its outputs as stale."""
    own = stage_module.removeprefix("benchgen_dagster.").replace(".", "/") + ".py"
    return source_digest((own, *code))


def candidate_dir(key: str) -> Path:
    folder = benchgen_home() / "candidates" / key
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def workspace_of(key: str) -> Path:
    return candidate_dir(key) / "workspace"


# Where steps hand each other what they made, in the artifact store: a candidate's folder, its journal.
WORK = "work"
# What the skill learner reads of a candidate's workspace.
JOURNAL_FILES = ("journal.md", "plan.md")


def journal_copy_dir(key: str) -> Path:
    """The copy of a candidate's journal that the skill learner reads, taken when a step ends."""
    return benchgen_home() / "journals" / "candidates" / key


def _hand_on(artifacts: ArtifactStoreResource, key: str, folder: Path) -> None:
    from benchgen_dagster.worker import safe_files

    workspace = folder / "workspace"
    if safe_files.is_file(workspace, JOURNAL_FILES[0]):
        for name in JOURNAL_FILES:
            if safe_files.is_file(workspace, name):
                safe_files.copy_out(workspace, name, journal_copy_dir(key) / name, MAX_WORKSPACE_TEXT)
        artifacts.push(journal_copy_dir(key), f"{WORK}/journals/{key}")
    artifacts.push_bundle(folder, f"{WORK}/candidates/{key}")


@contextmanager
def candidate_handoff(artifacts: ArtifactStoreResource, key: str) -> Iterator[Path]:
    """One step's hold of the candidate's folder (workspace, checked script, compiled scenes, renders).

    The step before may have run on another host: with a bucket, the folder is pulled from the artifact
    store first and pushed back when the step ends, failed or not (a retry elsewhere picks up the
    workspace where it was left), as one object (`push_bundle`): a step killed while pushing leaves the
    folder as the step before handed it on. The journal is handed on beside it, for the skill learner."""
    folder = candidate_dir(key)
    artifacts.pull_bundle(f"{WORK}/candidates/{key}", folder)
    try:
        yield folder
    except BaseException:
        with suppress(Exception):  # the step's own error is the one to report
            _hand_on(artifacts, key, folder)
        raise
    _hand_on(artifacts, key, folder)


def text_version(text: str) -> dg.DataVersion:
    return dg.DataVersion(hashlib.sha256(text.encode()).hexdigest()[:16])


MAX_WORKSPACE_TEXT = 2 * 1024 * 1024
MAX_RENDER_BYTES = 4 * 1024 * 1024


class UntrustedWorkspaceFile(ValueError):
    """A file the agents' programs could have replaced is a link, a FIFO, too big, or not there."""


def read_workspace_file(key: str, relative: str, limit: int = MAX_WORKSPACE_TEXT) -> bytes:
    """Read a file from the candidate's agent workspace as untrusted: the agents' sandboxed programs can
    write there, so no link is followed (file or folder), nothing but a regular file is read, and the
    size is bounded."""
    from benchgen_dagster.worker import safe_files

    try:
        return safe_files.read_bytes(workspace_of(key), relative, limit)
    except safe_files.UnsafeFileError as error:
        raise UntrustedWorkspaceFile(str(error)) from None


def is_workspace_file(key: str, relative: str) -> bool:
    """A regular file in the candidate's workspace, reached without a link."""
    from benchgen_dagster.worker import safe_files

    return safe_files.is_file(workspace_of(key), relative)


def read_workspace_text(key: str, relative: str) -> str:
    try:
        return read_workspace_file(key, relative).decode()
    except UnicodeDecodeError:
        raise UntrustedWorkspaceFile(f"{relative} is not UTF-8 text") from None


def session_metadata(result: Any) -> dict[str, Any]:
    """Tokens, model calls, cost and wall time (model and sandbox parts) of an agent session, as the UI
    shows them; a cost the price table does not know is "unknown", not 0."""
    usage = result.usage
    cost = result.estimated_cost_usd
    return {
        "tokens_in": sum(u.get("input_tokens", 0) for u in usage.values()),
        "tokens_out": sum(u.get("output_tokens", 0) for u in usage.values()),
        "model_calls": sum(u.get("calls", 0) for u in usage.values()),
        "estimated_cost_usd": dg.MetadataValue.float(cost) if cost is not None else "unknown",
        "agent_wall_s": dg.MetadataValue.float(round(result.wall_s, 2)),
        "model_s": dg.MetadataValue.float(round(getattr(result, "model_s", 0.0), 2)),
        "sandbox_s": dg.MetadataValue.float(round(getattr(result, "sandbox_s", 0.0), 2)),
        "decision": result.decision,
        "journal": dg.MetadataValue.path(str(Path(result.workspace) / "journal.md")),
    }


_MARKS = {True: "✓", False: "✗", None: "·"}


def seed_table(report: CheckReport, checks: list[str]) -> dg.TableMetadataValue:
    """A checks × seeds table: ✓, ✗ or · (not run) per seed and over all seeds, and each check's first failure."""
    seeds = report.seeds
    cells: dict[tuple[str, int | None], bool] = {}
    for result in report.results:
        if result.check.value in checks:
            key = (result.check.value, result.seed)
            cells[key] = cells.get(key, True) and result.passed
    first_failures: dict[str, str] = {}
    for f in report.failures:
        if f.check in checks:
            first_failures.setdefault(f.check, f"(seed {f.seed if f.seed is not None else 'all'}) {f.message}")
    columns = [
        dg.TableColumn("check"),
        *(dg.TableColumn(str(seed), description=f"seed {seed}") for seed in seeds),
        dg.TableColumn("all", description="over all seeds together"),
        dg.TableColumn("first failure"),
    ]
    rows = [
        {
            "check": check,
            **{str(seed): _MARKS[cells.get((check, seed))] for seed in seeds},
            "all": _MARKS[cells.get((check, None))],
            "first failure": first_failures.get(check, ""),
        }
        for check in checks
    ]
    return table(columns, rows)


def check_result(report: CheckReport, name: str, checks: list[str], description: str) -> dg.AssetCheckResult:
    """The blocking asset check `name` over `checks`: which seeds failed and why."""
    failures = [f for f in report.failures if f.check in checks]
    return dg.AssetCheckResult(
        check_name=name,
        passed=not failures,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description if not failures else f"{len(failures)} failure(s): {failures[0].message}",
        metadata={
            "failed_seeds": dg.MetadataValue.text(", ".join(sorted({str(f.seed) for f in failures})) or "none"),
            "failures": dg.MetadataValue.md(
                "\n".join(f"- {f.check} (seed {f.seed}): {f.message}" for f in failures[:20]) or "none"
            ),
        },
    )


def image_markdown(png: bytes, caption: str) -> str:
    """A small render embedded in the metadata (the full set is linked, not embedded: the event log keeps it)."""
    return f"![{caption}](data:image/png;base64,{base64.b64encode(png).decode()})"
