"""`check` and `render` from the parent's side: stage the script, run the builder, run the judge.

The parent never imports or executes the script. A check is three sandboxed runs (`worker.seed_runs`):
- the builder (untrusted) builds every seed and writes data only (`worker.builder`), in the warm
  builder where it runs (`worker.warm`);
- a second builder, started at the same time in its own freshly started interpreter, rebuilds a
  few seeds for the determinism check;
- the judge (trusted code, `worker.judge`) reads the first build's data and computes every per-seed
  verdict, its seeds side by side; the parent compares the two builds' bytes and adds the cross-seed
  verdicts (randomization coverage, geometric variety) from the judge's. Nothing the builder wrote is
  ever taken as a verdict.
Verdicts are kept by content (`worker.verdicts`), so every stage that asks again gets the same one.
"""

import re
import shutil
import time
import uuid
from pathlib import Path

from pydantic import ValidationError

from benchgen_dagster.models.reports import Check, CheckReport, CheckResult, Failure, SeedOutcome
from benchgen_dagster.models.settings import CheckSettings
from benchgen_dagster.paths import benchgen_home, cache_dir
from benchgen_dagster.worker import safe_files
from benchgen_dagster.worker.build_reader import BuildInputError, build_digest
from benchgen_dagster.worker.judge import RENDERS, ViewRequest
from benchgen_dagster.worker.judged_files import collect_compiled
from benchgen_dagster.worker.runs import RunDirectory, prune_runs
from benchgen_dagster.worker.seed_runs import SeedRuns
from benchgen_dagster.worker.validate import geometric_variety, randomization_coverage
from benchgen_dagster.worker.verdicts import SharedEntries, VerdictCache, check_key, render_key, seed_key
from benchgen_dagster.worker.warm import JUDGE_CACHE

MAX_SCRIPT_BYTES = 1024 * 1024
_MAX_RENDER_BYTES = 512 * 1024 * 1024
_RENDER_NAME = re.compile(r"view_az\d{3}_el\d{2}\.png|video\.mp4")
# Under the cache folder, beside the judge's decompositions (`JUDGE_CACHE`; the old `cache/decompositions`
# came from untrusted code): its verdicts.
VERDICTS, SEED_VERDICTS = "verdicts", "seed-verdicts"
# Seed verdicts kept: a few hundred checks' worth.
_SEED_ENTRIES = 4000
REPORT_FILE, OUTCOME_FILE, COMPILED, VIEWS = "report.json", "outcome.json", "compiled", "views"
# In a seed verdict's entry: the judge's folder for that seed (meshes, MJCF, the solved scene).
SEED_FILES = "seed"
# A view: width, height, video, with the reference solution.
View = tuple[int, int, bool, bool]


class ScriptNotFound(FileNotFoundError):
    pass


class Checker:
    """Runs scripts through the builder and the judge and turns the judge's verdicts into a CheckReport.

    With `shared` (the hosts' common store), verdicts judged on any host are reused here and these shared."""

    def __init__(
        self,
        settings: CheckSettings | None = None,
        home: Path | None = None,
        keep_runs: bool = True,
        shared: SharedEntries | None = None,
    ) -> None:
        self.settings = settings or CheckSettings()
        self.home = home or benchgen_home()
        self.cache_root = cache_dir(self.home) / JUDGE_CACHE
        self.verdicts = VerdictCache(cache_dir(self.home) / VERDICTS, shared=shared)
        self.seed_verdicts = VerdictCache(cache_dir(self.home) / SEED_VERDICTS, _SEED_ENTRIES, shared=shared)
        self.seed_runs = SeedRuns(self.settings, self.cache_root)
        self.sandbox = self.seed_runs.sandbox
        self.keep_runs = keep_runs

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
            rerun = self.seed_runs.cold_build(run, run.rerun, picks, scale, simulate) if picks else None
            missing, runs = self.seed_runs.build(run, seeds, scale, solution=simulate)
            built = [s for s in seeds if s not in missing]
            # The judge does not wait for the rebuild: determinism compares the two builds' bytes after.
            verdicts, judged_in, lost = self.judge_new(run, built, simulate, requests)
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
            peak = self.seed_runs.peak_rss_mb(run)
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
                    "judge": judged_in,
                    "run_dir": str(run.root),
                },
                settings=self.settings.model_dump(mode="json"),
            )
            collect_compiled(run.judge, ordered, run.root / COMPILED)
            marker = {VIEWS: b"requested"} if views is not None else {}
            # A check that lost seeds to the judge's own death is not kept for reuse (it may have been the
            # machine's doing): its entry, under a key of its own, only hands back its files.
            kept = key if not lost else f"x{uuid.uuid4().hex[:31]}"
            entry = self.verdicts.put(
                kept,
                {REPORT_FILE: report.model_dump_json().encode(), **marker},
                {COMPILED: run.root / COMPILED},
                share=not lost,
            )
            for view, request in zip(shown, requests, strict=True):
                self._keep_views(source, seeds[0], scale, view, ordered[0], run.judge / RENDERS / request.folder)
        self.finish(run)
        return report, entry

    def judge_new(
        self, run: RunDirectory, seeds: list[int], simulate: bool, requests: list[ViewRequest]
    ) -> tuple[dict[int, SeedOutcome], str, set[int]]:
        """Verdicts for the built `seeds`: those whose builder output was judged before are reused (their
        files put where the judge would have left them), the rest go to the judge, and are kept."""
        keys, verdicts = {}, {}
        for seed in seeds:
            try:
                digest = build_digest(run.build, seed)
            except BuildInputError:
                continue  # the judge says what is wrong with it
            asked = [(v.width, v.height, v.video, v.with_solution) for v in requests if v.seed == seed]
            keys[seed] = seed_key(digest, simulate, asked, self.settings)
            entry = self.seed_verdicts.get(keys[seed])
            reused = _cached_outcome(entry)
            if entry is not None and reused is not None and reused.input_digest == digest:
                verdicts[seed] = reused
                shutil.copytree(entry / SEED_FILES, run.judge / "seeds" / str(seed), dirs_exist_ok=True)
                if (entry / RENDERS).is_dir():
                    shutil.copytree(entry / RENDERS, run.judge / RENDERS, dirs_exist_ok=True)
        fresh = [s for s in seeds if s not in verdicts]
        fresh_views = [v for v in requests if v.seed in fresh]
        judged, isolation, lost = self.seed_runs.judge(run, fresh, simulate, fresh_views)
        for seed in fresh:
            folder = run.judge / "seeds" / str(seed)
            # Only verdicts the judge reached are kept: not a failure (a death may have been the
            # machine's doing, not the data's), nor what the parent wrote for a seed it lost.
            if seed in keys and seed not in lost and judged[seed].status == "judged":
                renders = {RENDERS: run.judge / RENDERS} if any(v.seed == seed for v in requests) else {}
                outcome = judged[seed].model_dump_json().encode()
                self.seed_verdicts.put(keys[seed], {OUTCOME_FILE: outcome}, {SEED_FILES: folder, **renders})
        again = len(seeds) - len(fresh)
        at_once = self.settings.sandbox.judge_processes()
        described = (f"{isolation}, {at_once} seed process(es) at once; " if fresh else "") + (
            f"{again} of {len(seeds)} seeds reused"
        )
        return {**verdicts, **judged}, described, lost

    def _keep_views(
        self, source: bytes, seed: int, scale: float, view: View, outcome: SeedOutcome, folder: Path
    ) -> Path:
        key = render_key(source, seed, scale, view, self.settings)
        # Views of a seed the judge did not reach (its process died) are this host's only: the next ask
        # renders again, on whichever host.
        judged = outcome.status == "judged"
        return self.verdicts.put(key, {OUTCOME_FILE: outcome.model_dump_json().encode()}, {RENDERS: folder}, judged)

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
                missing, _ = self.seed_runs.build(run, [seed], scale, solution=with_solution)
                request = _view_request(seed, view)
                verdicts = self.seed_runs.judge(run, [seed], False, [request])[0] if not missing else {}
                outcome = verdicts.get(seed) or missing.get(seed) or _lost(seed)
                entry = self._keep_views(source, seed, scale, view, outcome, run.judge / RENDERS / request.folder)
            self.finish(run)
        written = []
        for name in safe_files.list_files(entry, RENDERS):
            if _RENDER_NAME.fullmatch(name):
                safe_files.copy_out(entry / RENDERS, name, out / name, _MAX_RENDER_BYTES)
                written.append(out / name)
        return outcome, written

    def finish(self, run: RunDirectory) -> None:
        """A run folder done with: removed unless runs are kept, and old runs pruned."""
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
