"""`check` and `render` from the parent's side: stage the script, run the sandboxed child, judge.

The parent never imports or executes the script. It reads back only files the child wrote into
the workspace, validated by pydantic, and computes the cross-seed verdicts (determinism,
randomization coverage, geometric variety) itself.
"""

import hashlib
import io
import os
import re
import shutil
import stat
import sys
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

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
_MAX_RENDER_BYTES = 512 * 1024 * 1024
_RENDER_NAME = re.compile(r"view_az\d{3}_el\d{2}\.png|video\.mp4")
_MESH_NAME = re.compile(r"[A-Za-z0-9_.-]{1,120}\.stl")


class ScriptNotFound(FileNotFoundError):
    pass


class UntrustedFileError(ValueError):
    """A file the sandboxed child left is not a plain, reasonably sized file."""


def read_child_file(path: Path, limit: int = _MAX_REPORT_BYTES) -> bytes:
    """Read a file the untrusted child controls: never through a symlink, never a FIFO or device, never unbounded."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        raise UntrustedFileError(f"{path.name} cannot be opened safely ({error.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UntrustedFileError(f"{path.name} is not a regular file")
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise UntrustedFileError(f"{path.name} is larger than {limit} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _validation_summary(error: ValidationError) -> str:
    # Never echo the input: a symlinked or forged file could carry host data into the report.
    first = error.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "document"
    return f"{error.error_count()} problem(s), first at {where}: {first['msg']}"


def _read_outcome(path: Path, seed: int) -> SeedOutcome:
    try:
        outcome = SeedOutcome.model_validate_json(read_child_file(path))
    except UntrustedFileError as error:
        return SeedOutcome.failed(seed, Check.SCRIPT_RUNS, f"the seed's outcome file is not usable: {error}")
    except ValidationError as error:
        return SeedOutcome.failed(
            seed, Check.SCRIPT_RUNS, f"the seed's outcome file is not a valid report: {_validation_summary(error)}"
        )
    if outcome.seed != seed:
        return SeedOutcome.failed(
            seed, Check.SCRIPT_RUNS, f"the outcome file for seed {seed} claims seed {outcome.seed}"
        )
    return outcome


def _runner_death(run: SandboxRun) -> str:
    if run.timed_out:
        return f"the sandbox hit its wall-clock limit and was killed after {run.wall_s:.0f} s"
    cause = f"signal {run.died_by}" if run.died_by else f"exit status {run.returncode}"
    last = run.stderr_tail.strip().splitlines()[-1:] or [""]
    return f"the script took down the sandbox runner ({cause}){': ' + last[0] if last[0] else ''}"


class RunDirectory:
    """One sandbox run's folder under BENCHGEN_HOME/runs: the writable workspace and the logs beside it."""

    def __init__(self, home: Path, script: Path, cache_root: Path) -> None:
        if not script.is_file():
            raise ScriptNotFound(f"no benchmark script at {script}")
        self.cache_dir = _script_cache_dir(cache_root, script)
        self.root = home / "runs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        self.workspace = self.root / "workspace"
        self.logs = self.root / "logs"
        self.workspace.mkdir(parents=True)
        shutil.copyfile(script, self.workspace / SCRIPT_NAME)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _adopt_cache(workspace: Path, cache_dir: Path) -> int:
    """Move new convex decompositions into the script's cache after checking they are plain arrays."""
    adopted = 0
    new = workspace / "cache_new"
    if new.is_symlink() or not new.is_dir():
        return 0
    cache_dir.mkdir(parents=True, exist_ok=True)
    for path in new.glob("*.npz"):
        name_ok = len(path.stem) == _CACHE_NAME_LENGTH and all(c in "0123456789abcdef" for c in path.stem)
        if not name_ok or (cache_dir / path.name).exists():
            continue
        try:
            data = read_child_file(path)
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                # A small archive may inflate to gigabytes; judge it by what it declares first.
                if sum(info.file_size for info in archive.infolist()) > _MAX_REPORT_BYTES:
                    continue
            with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
                if not all(arrays[key].dtype.kind in "fiu" for key in arrays.files):
                    continue
        except (UntrustedFileError, ValueError, OSError, zipfile.BadZipFile):
            continue
        (cache_dir / path.name).write_bytes(data)
        adopted += 1
    return adopted


def _script_cache_dir(root: Path, script: Path) -> Path:
    # One cache per script text: a script can then only ever poison its own decompositions.
    return root / hashlib.sha256(script.read_bytes()).hexdigest()[:16]


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
        self.cache_root = self.home / "cache" / "decompositions"
        self.sandbox = Sandbox(self.settings.sandbox, bubblewrap=bubblewrap)
        self.keep_runs = keep_runs

    def _job(self, run_dir: RunDirectory, seeds: list[int], scale: float, **fields: Any) -> ChildJob:
        return ChildJob(
            seeds=seeds,
            scale=scale,
            settings=self.settings,
            cache_dir=str(run_dir.cache_dir),
            own_pid_namespace=self.sandbox.use_bubblewrap,
            **fields,
        )

    def _run_child(self, run_dir: RunDirectory, job: ChildJob, attempt: int) -> SandboxRun:
        run_dir.cache_dir.mkdir(parents=True, exist_ok=True)
        logs = run_dir.logs / f"attempt-{attempt}"
        logs.mkdir(parents=True, exist_ok=True)
        job_json = job.model_dump_json()
        (logs / "job.json").write_text(job_json)  # for the record; the child gets it on its command line
        command = [sys.executable, "-m", "benchgen_dagster.worker.child", str(run_dir.workspace), job_json]
        jobs = len(job.seeds) + len(job.determinism_seeds)
        run = self.sandbox.run(
            command,
            run_dir.workspace,
            logs,
            self.settings.sandbox.wall_timeout_s(jobs),
            extra_read_only=[run_dir.cache_dir],
        )
        _adopt_cache(run_dir.workspace, run_dir.cache_dir)
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
                if os.path.lexists(folder / OUTCOME_NAME):
                    outcomes[seed] = _read_outcome(folder / OUTCOME_NAME, seed)
                    progress = True
                elif os.path.lexists(folder / STARTED_NAME):
                    outcomes[seed] = SeedOutcome.failed(seed, Check.SCRIPT_RUNS, _runner_death(run))
                    progress = True
            remaining = [s for s in remaining if s not in outcomes]
            if remaining and (run.timed_out or not progress):
                for seed in remaining:
                    outcomes[seed] = SeedOutcome.failed(seed, Check.SCRIPT_RUNS, _runner_death(run))
                break
        return outcomes, runs

    def _determinism(self, workspace: Path, outcomes: dict[int, SeedOutcome], seeds: list[int]) -> list[CheckResult]:
        results = []
        for seed in seeds:
            first = outcomes.get(seed)
            rerun_path = seed_dir(workspace, seed, rerun=True) / OUTCOME_NAME
            if first is None or first.scene_digest is None:
                continue
            again = _read_outcome(rerun_path, seed).scene_digest if os.path.lexists(rerun_path) else None
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

    def _peak_rss_mb(self, workspace: Path) -> float:
        path = workspace / REPORT_NAME
        if not os.path.lexists(path):
            return 0.0
        try:
            return ChildReport.model_validate_json(read_child_file(path)).peak_rss_mb
        except (UntrustedFileError, ValidationError):
            return 0.0

    def check(self, script: Path, seeds: list[int], scale: float = 1.0, simulate: bool = True) -> CheckReport:
        """Compile, validate and (unless `simulate` is False) simulate `script` for `seeds` in the sandbox."""
        if not seeds:
            raise ValueError("check needs at least one seed")
        started = time.perf_counter()
        run_dir = RunDirectory(self.home, script, self.cache_root)
        picks = sorted({seeds[0], seeds[-1]})[: self.settings.determinism_reruns]
        job = self._job(run_dir, seeds, scale, determinism_seeds=picks, simulate=simulate)
        outcomes, runs = self._run_seeds(run_dir, job)
        ordered = [outcomes[s] for s in seeds]
        results = [r for o in ordered for r in o.results]
        results += self._determinism(run_dir.workspace, outcomes, picks)
        coverage = randomization_coverage(ordered, self.settings.randomization)
        results += [coverage, geometric_variety(ordered, self.settings.randomization)]
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
            peak_rss_mb=self._peak_rss_mb(run_dir.workspace),
            sandbox={
                **self.sandbox.describe(),
                "process_limit": runs[-1].process_limit,
                "cgroups": runs[-1].cgroups,
                "runners": len(runs),
                "run_dir": str(run_dir.root),
            },
            settings=self.settings.model_dump(mode="json"),
        )
        if not self.keep_runs:
            run_dir.remove()
        return report

    def collect_compiled(self, report: CheckReport, dest: Path) -> list[Path]:
        """Copy each seed's compiled scene.xml and meshes out of the report's run folder into
        `dest/<seed>/`, reading them as untrusted files (bounded, no links). Returns the seed folders."""
        run_root = Path(str(report.sandbox.get("run_dir", "")))
        folders = []
        for outcome in report.outcomes:
            if outcome.mjcf_path is None:
                continue
            source = seed_dir(run_root / "workspace", outcome.seed)
            target = dest / str(outcome.seed)
            if any(p.is_symlink() or not p.is_dir() for p in (source.parent, source, source / "meshes")):
                continue
            (target / "meshes").mkdir(parents=True, exist_ok=True)
            try:
                (target / "scene.xml").write_bytes(read_child_file(source / "scene.xml", _MAX_REPORT_BYTES))
                for mesh in sorted((source / "meshes").iterdir()):
                    if _MESH_NAME.fullmatch(mesh.name):
                        (target / "meshes" / mesh.name).write_bytes(read_child_file(mesh, _MAX_REPORT_BYTES))
            except (UntrustedFileError, OSError):
                shutil.rmtree(target, ignore_errors=True)
                continue
            folders.append(target)
        return folders

    def render(
        self,
        script: Path,
        seed: int,
        out: Path,
        width: int,
        height: int,
        video: bool,
        scale: float = 1.0,
        with_solution: bool = False,
    ) -> tuple[SeedOutcome, list[Path]]:
        """Build `seed` in the sandbox and render its views (and video) into `out`; with the script's
        reference solution added when `with_solution`."""
        run_dir = RunDirectory(self.home, script, self.cache_root)
        job = self._job(
            run_dir,
            [seed],
            scale,
            mode="render",
            simulate=False,
            with_solution=with_solution,
            render=RenderRequest(width=width, height=height, video=video),
        )
        outcomes, _ = self._run_seeds(run_dir, job)
        written = []
        renders = run_dir.workspace / "renders"
        if renders.is_dir() and not renders.is_symlink():
            out.mkdir(parents=True, exist_ok=True)
            for path in sorted(renders.iterdir()):
                if not _RENDER_NAME.fullmatch(path.name):
                    continue
                try:
                    data = read_child_file(path, _MAX_RENDER_BYTES)
                except UntrustedFileError:
                    continue
                (out / path.name).write_bytes(data)
                written.append(out / path.name)
        if not self.keep_runs:
            run_dir.remove()
        return outcomes[seed], written
