"""`check` and `render` from the parent's side: stage the script, run the sandboxed child, judge.

The parent never imports or executes the script. It reads back only files the child wrote into
the workspace, validated by pydantic, and computes the cross-seed verdicts (determinism,
randomization coverage, geometric variety) itself.
"""

import shutil
import sys
import time
import uuid
from pathlib import Path

import numpy as np

from benchgen_dagster.models.reports import (
    Check,
    CheckReport,
    CheckResult,
    ChildReport,
    Failure,
    SeedOutcome,
)
from benchgen_dagster.models.settings import CheckSettings
from benchgen_dagster.paths import benchgen_home
from benchgen_dagster.worker.child import (
    JOB_NAME,
    OUTCOME_NAME,
    REPORT_NAME,
    SCRIPT_NAME,
    STARTED_NAME,
    ChildJob,
    RenderRequest,
    seed_dir,
)
from benchgen_dagster.worker.sandbox import Sandbox, SandboxRun
from benchgen_dagster.worker.validate import geometric_variety, randomization_coverage

# A child's JSON larger than this is not a report but an attack on the parent's memory.
_MAX_REPORT_BYTES = 20 * 1024 * 1024
_CACHE_NAME_LENGTH = 64


class ScriptNotFound(FileNotFoundError):
    pass


def _read_outcome(path: Path, seed: int) -> SeedOutcome:
    if path.stat().st_size > _MAX_REPORT_BYTES:
        return _failed(seed, Check.SCRIPT_RUNS, "the seed's outcome file is too large to be a report")
    try:
        outcome = SeedOutcome.model_validate_json(path.read_bytes())
    except ValueError as error:
        return _failed(seed, Check.SCRIPT_RUNS, f"the seed's outcome file is not a valid report: {error}")
    if outcome.seed != seed:
        return _failed(seed, Check.SCRIPT_RUNS, f"the outcome file for seed {seed} claims seed {outcome.seed}")
    return outcome


def _failed(seed: int | None, check: Check, message: str) -> SeedOutcome:
    return SeedOutcome(seed=seed or 0, results=[CheckResult(check=check, seed=seed, passed=False, message=message)])


def _runner_death(run: SandboxRun) -> str:
    if run.timed_out:
        return f"the sandbox hit its wall-clock limit and was killed after {run.wall_s:.0f} s"
    cause = f"signal {run.died_by}" if run.died_by else f"exit status {run.returncode}"
    last = run.stderr_tail.strip().splitlines()[-1:] or [""]
    return f"the script took down the sandbox runner ({cause}){': ' + last[0] if last[0] else ''}"


class RunDirectory:
    """One sandbox run's folder under BENCHGEN_HOME/runs: the writable workspace and the logs beside it."""

    def __init__(self, home: Path, script: Path) -> None:
        if not script.is_file():
            raise ScriptNotFound(f"no benchmark script at {script}")
        self.root = home / "runs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        self.workspace = self.root / "workspace"
        self.logs = self.root / "logs"
        self.workspace.mkdir(parents=True)
        shutil.copyfile(script, self.workspace / SCRIPT_NAME)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _adopt_cache(workspace: Path, cache_dir: Path) -> int:
    """Move new convex decompositions into the shared cache after checking they are plain arrays."""
    adopted = 0
    new = workspace / "cache_new"
    if not new.is_dir():
        return 0
    cache_dir.mkdir(parents=True, exist_ok=True)
    for path in new.glob("*.npz"):
        name_ok = len(path.stem) == _CACHE_NAME_LENGTH and all(c in "0123456789abcdef" for c in path.stem)
        if not name_ok or path.is_symlink() or path.stat().st_size > _MAX_REPORT_BYTES:
            continue
        try:
            with np.load(path, allow_pickle=False) as data:
                if not all(data[key].dtype.kind in "fiu" for key in data.files):
                    continue
        except (ValueError, OSError):
            continue
        shutil.move(str(path), cache_dir / path.name)
        adopted += 1
    return adopted


class Checker:
    """Runs scripts through the sandboxed child and turns what comes back into a CheckReport."""

    def __init__(
        self,
        settings: CheckSettings | None = None,
        home: Path | None = None,
        bubblewrap: bool | None = None,
        keep_runs: bool = True,
    ) -> None:
        self.settings = settings or CheckSettings()
        self.home = home or benchgen_home()
        self.cache_dir = self.home / "cache" / "decompositions"
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.sandbox = Sandbox(self.settings.sandbox, bubblewrap=bubblewrap, extra_read_only=[self.cache_dir])
        self.keep_runs = keep_runs

    def _run_child(self, run_dir: RunDirectory, job: ChildJob, attempt: int) -> SandboxRun:
        (run_dir.workspace / JOB_NAME).write_text(job.model_dump_json())
        command = [sys.executable, "-m", "benchgen_dagster.worker.child", str(run_dir.workspace / JOB_NAME)]
        run = self.sandbox.run(command, run_dir.workspace, run_dir.logs / f"attempt-{attempt}")
        _adopt_cache(run_dir.workspace, self.cache_dir)
        return run

    def _run_seeds(self, run_dir: RunDirectory, job: ChildJob) -> tuple[dict[int, SeedOutcome], list[SandboxRun]]:
        """Run the job's seeds, starting a fresh runner when a seed takes one down."""
        outcomes: dict[int, SeedOutcome] = {}
        runs: list[SandboxRun] = []
        remaining = list(job.seeds)
        while remaining:
            run = self._run_child(run_dir, job.model_copy(update={"seeds": remaining}), len(runs))
            runs.append(run)
            progress = False
            for seed in remaining:
                folder = seed_dir(run_dir.workspace, seed)
                if (folder / OUTCOME_NAME).exists():
                    outcomes[seed] = _read_outcome(folder / OUTCOME_NAME, seed)
                    progress = True
                elif (folder / STARTED_NAME).exists():
                    outcomes[seed] = _failed(seed, Check.SCRIPT_RUNS, _runner_death(run))
                    progress = True
            remaining = [s for s in remaining if s not in outcomes]
            if remaining and (run.timed_out or not progress):
                for seed in remaining:
                    outcomes[seed] = _failed(seed, Check.SCRIPT_RUNS, _runner_death(run))
                break
        return outcomes, runs

    def _determinism(self, workspace: Path, outcomes: dict[int, SeedOutcome], seeds: list[int]) -> list[CheckResult]:
        results = []
        for seed in seeds:
            first = outcomes.get(seed)
            rerun_path = seed_dir(workspace, seed, rerun=True) / OUTCOME_NAME
            if first is None or first.scene_digest is None:
                continue
            again = _read_outcome(rerun_path, seed).scene_digest if rerun_path.exists() else None
            same = again == first.scene_digest
            results.append(
                CheckResult(
                    check=Check.DETERMINISTIC,
                    seed=seed,
                    passed=same,
                    message="rebuilt in a fresh process: byte-identical meshes and MJCF"
                    if same
                    else f"rebuilding seed {seed} in a fresh process gave different meshes or MJCF "
                    f"({first.scene_digest[:12]} then {(again or 'nothing')[:12]}): the script depends on something "
                    "besides its seed (time, unseeded randomness, global state)",
                )
            )
        return results

    def check(self, script: Path, seeds: list[int], scale: float = 1.0) -> CheckReport:
        """Compile, validate and simulate `script` for `seeds` in the sandbox."""
        started = time.perf_counter()
        run_dir = RunDirectory(self.home, script)
        picks = sorted({seeds[0], seeds[-1]})[: self.settings.determinism_reruns] if seeds else []
        job = ChildJob(
            seeds=seeds,
            scale=scale,
            settings=self.settings,
            cache_dir=str(self.cache_dir),
            determinism_seeds=picks,
        )
        outcomes, runs = self._run_seeds(run_dir, job)
        ordered = [outcomes[s] for s in seeds]
        results = [r for o in ordered for r in o.results]
        results += self._determinism(run_dir.workspace, outcomes, picks)
        coverage = randomization_coverage(ordered, self.settings.randomization)
        results += [coverage, geometric_variety(ordered, self.settings.randomization)]
        peak = 0.0
        report_path = run_dir.workspace / REPORT_NAME
        if report_path.exists() and report_path.stat().st_size <= _MAX_REPORT_BYTES:
            try:
                peak = ChildReport.model_validate_json(report_path.read_bytes()).peak_rss_mb
            except ValueError:
                peak = 0.0
        notes = [w for run in runs[:1] for w in run.warnings]
        notes += list(coverage.details.get("narrowed", []))
        failures = [Failure(check=r.check.value, seed=r.seed, message=r.message) for r in results if not r.passed]
        report = CheckReport(
            script=str(script),
            seeds=seeds,
            passed=not failures,
            failures=failures,
            results=results,
            outcomes=ordered,
            notes=notes,
            wall_s=time.perf_counter() - started,
            peak_rss_mb=peak,
            sandbox={
                **self.sandbox.describe(),
                "process_limit": runs[0].process_limit if runs else "",
                "runners": len(runs),
                "run_dir": str(run_dir.root),
            },
            settings=self.settings.model_dump(mode="json"),
        )
        if not self.keep_runs:
            run_dir.remove()
        return report

    def render(
        self, script: Path, seed: int, out: Path, width: int, height: int, video: bool, scale: float = 1.0
    ) -> tuple[SeedOutcome, list[Path]]:
        """Build `seed` in the sandbox and render its views (and video) into `out`."""
        run_dir = RunDirectory(self.home, script)
        job = ChildJob(
            mode="render",
            seeds=[seed],
            scale=scale,
            settings=self.settings,
            cache_dir=str(self.cache_dir),
            render=RenderRequest(width=width, height=height, video=video),
        )
        outcomes, _ = self._run_seeds(run_dir, job)
        written = []
        renders = run_dir.workspace / "renders"
        if renders.is_dir():
            out.mkdir(parents=True, exist_ok=True)
            for path in sorted(renders.iterdir()):
                if path.suffix in (".png", ".mp4") and path.is_file() and not path.is_symlink():
                    written.append(Path(shutil.copy2(path, out / path.name)))
        if not self.keep_runs:
            run_dir.remove()
        return outcomes[seed], written
