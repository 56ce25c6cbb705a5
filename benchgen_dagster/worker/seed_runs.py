"""The sandboxed runs of a check: the builder (warm or cold), the determinism rebuild and the judge.

`SeedRuns` starts them for a run folder and turns what comes back into per-seed outcomes: a build
record or the reason a seed has none, and the judge's verdicts. It never reads a verdict from the
builder's files, and it never decides a check: `worker.check` does, from what this gives it.
"""

import sys
import uuid
from pathlib import Path

from pydantic import ValidationError

from benchgen_dagster.models.build import BUILD_RECORD, BUILD_STOPPED
from benchgen_dagster.models.reports import Check, JudgeSummary, SeedOutcome
from benchgen_dagster.models.settings import CheckSettings
from benchgen_dagster.worker import safe_files
from benchgen_dagster.worker.build_reader import build_failure
from benchgen_dagster.worker.builder import STARTED_NAME, BuildJob
from benchgen_dagster.worker.judge import CACHE_NEW, SUMMARY_NAME, VERDICT_NAME, JudgeJob, ViewRequest
from benchgen_dagster.worker.judged_files import adopt_cache
from benchgen_dagster.worker.runs import RunDirectory
from benchgen_dagster.worker.sandbox import RunningSandbox, Sandbox, SandboxJob, SandboxRun
from benchgen_dagster.worker.warm import BUILDER, JUDGE, WarmRun, WarmSandbox

_MAX_VERDICT_BYTES = 20 * 1024 * 1024
LIBRARY = Path(__file__).resolve().parents[1] / "library"


def runner_death(run: SandboxRun, role: str) -> str:
    if run.export_problem and "quota" in run.export_problem:
        return run.export_problem
    if run.timed_out:
        return f"the {role} hit its wall-clock limit and was killed after {run.wall_s:.0f} s"
    cause = f"signal {run.died_by}" if run.died_by else f"exit status {run.returncode}"
    last = run.stderr_tail.strip().splitlines()[-1:] or [""]
    return f"the script took down the sandbox's {role} ({cause}){': ' + last[0] if last[0] else ''}"


class SeedRuns:
    """Builds and judges the seeds of one check in its run folder, in the warm sandboxes where they run."""

    def __init__(self, settings: CheckSettings, cache_root: Path) -> None:
        self.settings, self.cache_root = settings, cache_root
        self.sandbox = Sandbox(settings.sandbox)

    def _build_spec(
        self, run: RunDirectory, seeds: list[int], scale: float, solution: bool, tasks: Path | None = None
    ) -> BuildJob:
        limits, geometry = self.settings.sandbox, self.settings.geometry
        return BuildJob(
            script=str(run.script),
            tasks=str(tasks) if tasks is not None else None,
            seeds=seeds,
            scale=scale,
            with_solution=solution,
            mesh_tolerance_mm=geometry.mesh_tolerance_mm,
            mesh_angular_tolerance_rad=geometry.mesh_angular_tolerance_rad,
            seed_cpu_seconds=limits.seed_cpu_seconds,
            seed_timeout_s=limits.seed_timeout_s,
            workspace_mb=limits.workspace_mb,
        )

    def cold_build(
        self,
        run: RunDirectory,
        folder: Path,
        seeds: list[int],
        scale: float,
        solution: bool,
        tasks: Path | None = None,
        inputs: tuple[Path, ...] = (),
    ) -> RunningSandbox:
        """A builder in a freshly started interpreter, in a sandbox of its own; with `tasks`, a solver's
        (`worker.builder`), reading them and `inputs` too."""
        job = self._build_spec(run, seeds, scale, solution, tasks)
        return self.sandbox.start(
            SandboxJob(
                command=[sys.executable, "-m", "benchgen_dagster.worker.builder", job.model_dump_json()],
                workspace=folder,
                logs=run.logs / f"{folder.name}-{uuid.uuid4().hex[:6]}",
                wall_timeout_s=self.settings.sandbox.wall_timeout_s(len(seeds)),
                inputs=[run.script, *([tasks] if tasks is not None else []), *inputs],
                # A solver reads no family of the library: each holds a reference solution().
                hidden=[LIBRARY] if tasks is not None else [],
            )
        )

    def _first_build(
        self,
        run: RunDirectory,
        seeds: list[int],
        scale: float,
        solution: bool,
        cold: bool = False,
        tasks: Path | None = None,
        inputs: tuple[Path, ...] = (),
    ) -> RunningSandbox | WarmRun:
        """The build the verdicts come from: in the warm builder where it runs, else cold. A solver always
        starts cold: an interpreter of its own, which no benchmark's script ever ran in."""
        # Where the cold sandbox would not use bubblewrap (the weaker mode), neither does anything else.
        use_warm = not cold and tasks is None and self.sandbox.use_bubblewrap
        warm = WarmSandbox.shared(self.settings.sandbox, BUILDER) if use_warm else None
        if warm is None:
            return self.cold_build(run, run.build, seeds, scale, solution, tasks, inputs)
        logs = run.logs / f"build-warm-{uuid.uuid4().hex[:6]}"
        job = self._build_spec(run, seeds, scale, solution).model_dump_json()
        wall = self.settings.sandbox.wall_timeout_s(len(seeds))
        return warm.start(self.settings.sandbox, job, run.script.read_bytes(), run.build, logs, wall)

    def build(
        self,
        run: RunDirectory,
        seeds: list[int],
        scale: float,
        solution: bool,
        tasks: Path | None = None,
        inputs: tuple[Path, ...] = (),
    ) -> tuple[dict[int, SeedOutcome], list[SandboxRun]]:
        """Build `seeds` (with `tasks`, solve them: `cold_build`), starting a fresh builder for the rest when a
        seed takes one down. Returns the seeds that have no build record (failed or not run), and the runs."""
        missing: dict[int, SeedOutcome] = {}
        runs: list[SandboxRun] = []
        remaining = list(seeds)
        retried = False
        while remaining:
            result = self._first_build(run, remaining, scale, solution, retried, tasks, inputs).wait()
            runs.append(result)
            if result.builder_died and not retried:
                # The warm builder crashed under this job (its doing or not): once more, in a cold builder.
                retried = True
                continue
            progress, stopped_at = False, None
            for seed in remaining:
                folder = run.build / "seeds" / str(seed)
                if safe_files.is_file(folder, BUILD_RECORD):
                    progress = True
                    continue
                failure = build_failure(run.build, seed)
                if failure is not None:
                    missing[seed] = SeedOutcome.failed(seed, Check.SCRIPT_RUNS, failure.message)
                    progress = True
                    if failure.status in ("cpu_limit", "timeout", "disk_quota"):
                        stopped_at = seed
                        break
                elif safe_files.is_file(folder, STARTED_NAME):
                    missing[seed] = SeedOutcome.failed(seed, Check.SCRIPT_RUNS, runner_death(result, "builder"))
                    progress = True
            done = {
                s for s in remaining if s in missing or safe_files.is_file(run.build / "seeds" / str(s), BUILD_RECORD)
            }
            if stopped_at is not None or safe_files.is_file(run.build, BUILD_STOPPED):
                for seed in remaining:
                    if seed not in done:
                        missing[seed] = SeedOutcome.skipped(seed, f"the check ended at seed {stopped_at}, which hung")
                break
            remaining = [s for s in remaining if s not in done]
            if remaining and (result.timed_out or not progress):
                for seed in remaining:
                    missing[seed] = SeedOutcome.failed(seed, Check.SCRIPT_RUNS, runner_death(result, "builder"))
                break
        return missing, runs

    def judge(
        self, run: RunDirectory, seeds: list[int], simulate: bool, views: list[ViewRequest]
    ) -> tuple[dict[int, SeedOutcome], str, set[int]]:
        """The judge's verdicts, how it was isolated, and the seeds lost to the judge's own death.

        A seed whose data takes its process down is judged once more (see `judge.judge`). When the judge
        dies as a whole (a timeout, the memory cap, a fork refused) the seeds it had side by side are lost
        together and none is to blame yet: they are judged again one at a time, where the first without
        a verdict is the one it died on, and the rest go on. A warm judge that dies under a job is no
        verdict on it: the job runs again, cold."""
        verdicts: dict[int, SeedOutcome] = {}
        remaining, lost = list(seeds), set()
        cold, one_at_a_time, isolation = False, False, "none: nothing was built"
        while remaining:
            job = JudgeJob(
                build_dir=str(run.build),
                seeds=remaining,
                settings=self.settings,
                cache_dir=str(self.cache_root),
                simulate=simulate,
                views=views,
                workers=1 if one_at_a_time else self.settings.sandbox.judge_processes(),
            )
            result = self._judge_run(run, job, cold)
            isolation = result.isolation
            if result.builder_died and not cold:
                cold = True
                continue
            adopt_cache(run.judge / CACHE_NEW, self.cache_root)
            for seed in remaining:
                verdict = self._verdict(run, seed)
                if verdict is not None:
                    verdicts[seed] = verdict
            left = [s for s in remaining if s not in verdicts]
            if left and not one_at_a_time and len(left) > 1:
                one_at_a_time, remaining = True, left
                continue
            if left:
                lost.add(left[0])
                verdicts[left[0]] = SeedOutcome.failed(
                    left[0],
                    Check.SCRIPT_RUNS,
                    f"the judge failed on this seed's data ({runner_death(result, 'judge')})",
                )
            remaining = left[1:]
        return verdicts, isolation, lost

    def _judge_run(self, run: RunDirectory, job: JudgeJob, cold: bool) -> SandboxRun:
        """The judge in the warm judge where it runs, else in a cold sandbox; the same job either way."""
        logs = run.logs / f"judge-{uuid.uuid4().hex[:6]}"
        wall = self.settings.sandbox.wall_timeout_s(len(job.seeds))
        use_warm = not cold and self.sandbox.use_bubblewrap
        warm = WarmSandbox.shared(self.settings.sandbox, JUDGE, self.cache_root) if use_warm else None
        if warm is not None:
            return warm.start(self.settings.sandbox, job.model_dump_json(), run.build, run.judge, logs, wall).wait()
        return self.sandbox.run(
            SandboxJob(
                command=[sys.executable, "-m", "benchgen_dagster.worker.judge", job.model_dump_json()],
                workspace=run.judge,
                logs=logs,
                wall_timeout_s=wall,
                inputs=[run.build, self.cache_root],
            )
        )

    def _verdict(self, run: RunDirectory, seed: int) -> SeedOutcome | None:
        try:
            data = safe_files.read_bytes(run.judge / "seeds" / str(seed), VERDICT_NAME, _MAX_VERDICT_BYTES)
            verdict = SeedOutcome.model_validate_json(data)
        except (safe_files.UnsafeFileError, ValidationError):
            return None
        return verdict if verdict.seed == seed else None

    def peak_rss_mb(self, run: RunDirectory) -> float:
        try:
            return JudgeSummary.model_validate_json(safe_files.read_bytes(run.judge, SUMMARY_NAME)).peak_rss_mb
        except (safe_files.UnsafeFileError, ValidationError):
            return 0.0
