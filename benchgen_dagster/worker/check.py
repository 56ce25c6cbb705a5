"""`check` and `render` from the parent's side: stage the script, run the builder, run the judge.

The parent never imports or executes the script. A check is three sandboxed runs:
- the builder (untrusted) builds every seed and writes data only (`worker.builder`);
- a second builder, started at the same time in its own freshly started interpreter, rebuilds a
  few seeds for the determinism check;
- the judge (trusted code, `worker.judge`) reads both builders' data and computes every per-seed
  verdict; the parent adds the cross-seed ones (randomization coverage, geometric variety) from the
  judge's verdicts. Nothing the builder wrote is ever taken as a verdict.
"""

import re
import shutil
import sys
import time
import uuid
from pathlib import Path

from pydantic import ValidationError

from benchgen_dagster.models.build import BUILD_RECORD, BUILD_STOPPED
from benchgen_dagster.models.reports import Check, CheckReport, CheckResult, Failure, JudgeSummary, SeedOutcome
from benchgen_dagster.models.settings import CheckSettings
from benchgen_dagster.paths import benchgen_home, cache_dir
from benchgen_dagster.worker import safe_files
from benchgen_dagster.worker.build_reader import BuildInputError, build_digest, build_failure
from benchgen_dagster.worker.builder import STARTED_NAME, BuildJob
from benchgen_dagster.worker.judge import CACHE_NEW, RENDERS, SUMMARY_NAME, VERDICT_NAME, JudgeJob, ViewRequest
from benchgen_dagster.worker.judged_files import adopt_cache, collect_compiled
from benchgen_dagster.worker.runs import RunDirectory, prune_runs
from benchgen_dagster.worker.sandbox import RunningSandbox, Sandbox, SandboxJob, SandboxRun
from benchgen_dagster.worker.validate import geometric_variety, randomization_coverage
from benchgen_dagster.worker.verdicts import VerdictCache, check_key, render_key
from benchgen_dagster.worker.warm_builder import WarmBuilder, WarmRun

MAX_SCRIPT_BYTES = 1024 * 1024
_MAX_VERDICT_BYTES = 20 * 1024 * 1024
_MAX_RENDER_BYTES = 512 * 1024 * 1024
_RENDER_NAME = re.compile(r"view_az\d{3}_el\d{2}\.png|video\.mp4")
# Under the cache folder: decompositions made by the judge (the old `cache/decompositions` came from
# untrusted code), and its verdicts.
JUDGE_CACHE = "judge-decompositions"
VERDICTS = "verdicts"
REPORT_FILE, OUTCOME_FILE, COMPILED, VIEWS = "report.json", "outcome.json", "compiled", "views"
# A view: width, height, video, with the reference solution.
View = tuple[int, int, bool, bool]


class ScriptNotFound(FileNotFoundError):
    pass


def _runner_death(run: SandboxRun, role: str) -> str:
    if run.export_problem and "quota" in run.export_problem:
        return run.export_problem
    if run.timed_out:
        return f"the {role} hit its wall-clock limit and was killed after {run.wall_s:.0f} s"
    cause = f"signal {run.died_by}" if run.died_by else f"exit status {run.returncode}"
    last = run.stderr_tail.strip().splitlines()[-1:] or [""]
    return f"the script took down the sandbox's {role} ({cause}){': ' + last[0] if last[0] else ''}"


class Checker:
    """Runs scripts through the builder and the judge and turns the judge's verdicts into a CheckReport."""

    def __init__(self, settings: CheckSettings | None = None, home: Path | None = None, keep_runs: bool = True) -> None:
        self.settings = settings or CheckSettings()
        self.home = home or benchgen_home()
        self.cache_root = cache_dir(self.home) / JUDGE_CACHE
        self.verdicts = VerdictCache(cache_dir(self.home) / VERDICTS)
        self.sandbox = Sandbox(self.settings.sandbox)
        self.keep_runs = keep_runs

    # The runs ---------------------------------------------------------------------------------------

    def _build_spec(self, run: RunDirectory, seeds: list[int], scale: float, solution: bool) -> BuildJob:
        limits, geometry = self.settings.sandbox, self.settings.geometry
        return BuildJob(
            script=str(run.script),
            seeds=seeds,
            scale=scale,
            with_solution=solution,
            mesh_tolerance_mm=geometry.mesh_tolerance_mm,
            mesh_angular_tolerance_rad=geometry.mesh_angular_tolerance_rad,
            seed_cpu_seconds=limits.seed_cpu_seconds,
            seed_timeout_s=limits.seed_timeout_s,
            workspace_mb=limits.workspace_mb,
        )

    def _cold_build(
        self, run: RunDirectory, folder: Path, seeds: list[int], scale: float, solution: bool
    ) -> RunningSandbox:
        """A builder in a freshly started interpreter, in a sandbox of its own."""
        job = self._build_spec(run, seeds, scale, solution)
        return self.sandbox.start(
            SandboxJob(
                command=[sys.executable, "-m", "benchgen_dagster.worker.builder", job.model_dump_json()],
                workspace=folder,
                logs=run.logs / f"{folder.name}-{uuid.uuid4().hex[:6]}",
                wall_timeout_s=self.settings.sandbox.wall_timeout_s(len(seeds)),
                inputs=[run.script],
            )
        )

    def _first_build(
        self, run: RunDirectory, seeds: list[int], scale: float, solution: bool, cold: bool = False
    ) -> RunningSandbox | WarmRun:
        """The build the verdicts come from: in the warm builder where it runs, else cold."""
        # Where the cold sandbox would not use bubblewrap (the weaker mode), neither does anything else.
        warm = None if cold or not self.sandbox.use_bubblewrap else WarmBuilder.shared(self.settings.sandbox)
        if warm is None:
            return self._cold_build(run, run.build, seeds, scale, solution)
        logs = run.logs / f"build-warm-{uuid.uuid4().hex[:6]}"
        job = self._build_spec(run, seeds, scale, solution)
        wall = self.settings.sandbox.wall_timeout_s(len(seeds))
        return warm.start(self.settings.sandbox, job, run.script.read_bytes(), run.build, logs, wall)

    def _build(
        self, run: RunDirectory, seeds: list[int], scale: float, solution: bool
    ) -> tuple[dict[int, SeedOutcome], list[SandboxRun]]:
        """Build `seeds`, starting a fresh builder for the rest when a seed takes one down. Returns the seeds
        that have no build record (failed or not run), and the runs."""
        missing: dict[int, SeedOutcome] = {}
        runs: list[SandboxRun] = []
        remaining = list(seeds)
        retried = False
        while remaining:
            result = self._first_build(run, remaining, scale, solution, cold=retried).wait()
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
                    missing[seed] = SeedOutcome.failed(seed, Check.SCRIPT_RUNS, _runner_death(result, "builder"))
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
                    missing[seed] = SeedOutcome.failed(seed, Check.SCRIPT_RUNS, _runner_death(result, "builder"))
                break
        return missing, runs

    def _judge(
        self, run: RunDirectory, seeds: list[int], simulate: bool, views: list[ViewRequest]
    ) -> dict[int, SeedOutcome]:
        """The judge's verdicts; a judge that dies costs the seed it was on, and it goes on with the rest."""
        verdicts: dict[int, SeedOutcome] = {}
        remaining = list(seeds)
        while remaining:
            job = JudgeJob(
                build_dir=str(run.build),
                seeds=remaining,
                settings=self.settings,
                cache_dir=str(self.cache_root),
                simulate=simulate,
                views=views,
            )
            result = self.sandbox.run(
                SandboxJob(
                    command=[sys.executable, "-m", "benchgen_dagster.worker.judge", job.model_dump_json()],
                    workspace=run.judge,
                    logs=run.logs / f"judge-{uuid.uuid4().hex[:6]}",
                    wall_timeout_s=self.settings.sandbox.wall_timeout_s(len(remaining)),
                    inputs=[run.build, self.cache_root],
                )
            )
            adopt_cache(run.judge / CACHE_NEW, self.cache_root)
            for seed in remaining:
                verdict = self._verdict(run, seed)
                if verdict is not None:
                    verdicts[seed] = verdict
            left = [s for s in remaining if s not in verdicts]
            if left:
                # The judge goes seed by seed: the first without a verdict is the one it died on.
                verdicts[left[0]] = SeedOutcome.failed(
                    left[0],
                    Check.SCRIPT_RUNS,
                    f"the judge failed on this seed's data ({_runner_death(result, 'judge')})",
                )
            remaining = left[1:]
        return verdicts

    def _verdict(self, run: RunDirectory, seed: int) -> SeedOutcome | None:
        try:
            data = safe_files.read_bytes(run.judge / "seeds" / str(seed), VERDICT_NAME, _MAX_VERDICT_BYTES)
            verdict = SeedOutcome.model_validate_json(data)
        except (safe_files.UnsafeFileError, ValidationError):
            return None
        return verdict if verdict.seed == seed else None

    def _peak_rss_mb(self, run: RunDirectory) -> float:
        try:
            return JudgeSummary.model_validate_json(safe_files.read_bytes(run.judge, SUMMARY_NAME)).peak_rss_mb
        except (safe_files.UnsafeFileError, ValidationError):
            return 0.0

    # The public API ---------------------------------------------------------------------------------

    def check(
        self,
        script: Path,
        seeds: list[int],
        scale: float = 1.0,
        simulate: bool = True,
        compiled_dest: Path | None = None,
        views: tuple[int, int] | None = None,
    ) -> CheckReport:
        """Build and judge `script` for `seeds` (no physics when `simulate` is False); with `compiled_dest`, the
        judge's compiled seeds (`<seed>/scene.xml` + `meshes/`) are copied there; with `views` (a size), the
        judge also renders the first seed alone and with its solution, for `render` to reuse.

        The same script, seeds and settings judged by the same judge give the same verdict: it is kept by
        content and reused (`report.cached`)."""
        if not seeds:
            raise ValueError("check needs at least one seed")
        source = _script_bytes(script)
        key = check_key(source, seeds, scale, simulate, self.settings)
        entry = self.verdicts.get(key)
        report = _cached_report(entry)
        if entry is None or report is None or (views is not None and not (entry / VIEWS).is_file()):
            report, entry = self._judged_check(script, source, key, seeds, scale, simulate, views)
        if compiled_dest is not None:
            shutil.rmtree(compiled_dest, ignore_errors=True)
            if (entry / COMPILED).is_dir():
                shutil.copytree(entry / COMPILED, compiled_dest)
            else:
                compiled_dest.mkdir(parents=True)
        return report

    def _judged_check(
        self,
        script: Path,
        source: bytes,
        key: str,
        seeds: list[int],
        scale: float,
        simulate: bool,
        views: tuple[int, int] | None,
    ) -> tuple[CheckReport, Path]:
        started = time.perf_counter()
        picks = sorted({seeds[0], seeds[-1]})[: self.settings.determinism_reruns]
        shown: list[View] = [(*views, False, False), (*views, False, True)] if views and simulate else []
        requests = [_view_request(seeds[0], view) for view in shown]
        with RunDirectory.create(self.home, source) as run:
            # The determinism rebuild runs beside the first build, in an interpreter of its own.
            rerun = self._cold_build(run, run.rerun, picks, scale, simulate) if picks else None
            missing, runs = self._build(run, seeds, scale, solution=simulate)
            built = [s for s in seeds if s not in missing]
            # The judge does not wait for the rebuild: determinism compares the two builds' bytes after.
            verdicts = self._judge(run, built, simulate, requests) if built else {}
            if rerun is not None:
                rerun.wait()
                for seed in picks:
                    if seed in verdicts and verdicts[seed].input_digest:
                        verdicts[seed].results.append(determinism(run.rerun, seed, verdicts[seed].input_digest or ""))
            ordered = [verdicts.get(s) or missing.get(s) or _lost(s) for s in seeds]
            results = [r for o in ordered for r in o.results]
            judged = [o for o in ordered if o.status == "judged"]
            coverage = randomization_coverage(judged, self.settings.randomization)
            results += [coverage, geometric_variety(judged, self.settings.randomization)]
            peak = self._peak_rss_mb(run)
            failures = [
                Failure(check=r.check.value, seed=r.seed, message=r.message, not_run=r.not_run)
                for r in results
                if not r.passed
            ]
            report = CheckReport(
                script=str(script),
                seeds=seeds,
                passed=not failures,
                failures=failures,
                results=results,
                outcomes=ordered,
                notes=[*runs[0].warnings, *coverage.details.get("narrowed", [])],
                wall_s=time.perf_counter() - started,
                peak_rss_mb=peak,
                sandbox={
                    **self.sandbox.describe(),
                    **runs[-1].limits,
                    "process_limit": runs[-1].process_limit,
                    "runners": len(runs),
                    "run_dir": str(run.root),
                },
                settings=self.settings.model_dump(mode="json"),
            )
            collect_compiled(run.judge, ordered, run.root / COMPILED)
            marker = {VIEWS: b"requested"} if views is not None else {}
            entry = self.verdicts.put(
                key, {REPORT_FILE: report.model_dump_json().encode(), **marker}, {COMPILED: run.root / COMPILED}
            )
            for view, request in zip(shown, requests, strict=True):
                self._keep_views(source, seeds[0], scale, view, ordered[0], run.judge / RENDERS / request.folder)
        self._finish(run)
        return report, entry

    def _keep_views(
        self, source: bytes, seed: int, scale: float, view: View, outcome: SeedOutcome, folder: Path
    ) -> Path:
        key = render_key(source, seed, scale, view, self.settings)
        return self.verdicts.put(key, {OUTCOME_FILE: outcome.model_dump_json().encode()}, {RENDERS: folder})

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
        """Build `seed` and have the judge render its views (and video) into `out`; with the script's
        reference solution added when `with_solution`. Views the judge made before are reused."""
        source = _script_bytes(script)
        view: View = (width, height, video, with_solution)
        entry = self.verdicts.get(render_key(source, seed, scale, view, self.settings))
        outcome = _cached_outcome(entry)
        if entry is None or outcome is None:
            with RunDirectory.create(self.home, source) as run:
                missing, _ = self._build(run, [seed], scale, solution=with_solution)
                request = _view_request(seed, view)
                verdicts = self._judge(run, [seed], False, [request]) if not missing else {}
                outcome = verdicts.get(seed) or missing.get(seed) or _lost(seed)
                entry = self._keep_views(source, seed, scale, view, outcome, run.judge / RENDERS / request.folder)
            self._finish(run)
        written = []
        for name in safe_files.list_files(entry, RENDERS):
            if _RENDER_NAME.fullmatch(name):
                safe_files.copy_out(entry / RENDERS, name, out / name, _MAX_RENDER_BYTES)
                written.append(out / name)
        return outcome, written

    def _finish(self, run: RunDirectory) -> None:
        if not self.keep_runs:
            run.remove()
        prune_runs(self.home, self.settings.retention)


def determinism(rerun: Path, seed: int, first: str) -> CheckResult:
    """The same seed built twice, each time in a freshly started interpreter: the same bytes, or a failure."""
    try:
        again: str | None = build_digest(rerun, seed)
    except BuildInputError:
        again = None
    same = again == first
    return CheckResult(
        check=Check.DETERMINISTIC,
        seed=seed,
        passed=same,
        message="rebuilt in a freshly started interpreter: byte-identical builder output"
        if same
        else f"rebuilding seed {seed} in a freshly started interpreter gave different output "
        f"({first[:12]} then {(again or 'nothing usable')[:12]}): the script depends on something besides its "
        "seed (time, unseeded randomness, global state)",
    )


def _view_request(seed: int, view: View) -> ViewRequest:
    width, height, video, with_solution = view
    folder = f"{width}x{height}{'-video' if video else ''}{'-solution' if with_solution else ''}"
    return ViewRequest(seed=seed, width=width, height=height, video=video, with_solution=with_solution, folder=folder)


def _cached_report(entry: Path | None) -> CheckReport | None:
    if entry is None:
        return None
    try:
        return CheckReport.model_validate_json((entry / REPORT_FILE).read_bytes()).model_copy(update={"cached": True})
    except (OSError, ValidationError):
        return None


def _cached_outcome(entry: Path | None) -> SeedOutcome | None:
    if entry is None:
        return None
    try:
        return SeedOutcome.model_validate_json((entry / OUTCOME_FILE).read_bytes())
    except (OSError, ValidationError):
        return None


def _lost(seed: int) -> SeedOutcome:
    return SeedOutcome.failed(seed, Check.SCRIPT_RUNS, "no output for this seed came back from the sandbox")


def _script_bytes(script: Path) -> bytes:
    """The script's text, read without following a link (an agent's program could have planted one)."""
    if not script.exists() and not script.is_symlink():
        raise ScriptNotFound(f"no benchmark script at {script}")
    try:
        return safe_files.read_file(script, MAX_SCRIPT_BYTES)
    except safe_files.UnsafeFileError as error:
        raise ScriptNotFound(f"the benchmark script cannot be read safely: {error}") from None
