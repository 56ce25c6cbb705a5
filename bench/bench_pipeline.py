"""Pipeline benchmark: what Dagster costs on top of the work it orchestrates, and a batch's throughput.

Run with `make bench-pipeline`. Every figure is a ratio of two things measured in the same run, so
it holds on a noisy shared machine where absolute times do not.

Overhead. For each request, in the same run and alternating the order, it times the same work twice,
each in a fresh BENCHGEN_HOME:
- direct: the agent session (planner → coder ⇄ worker → reviewer), then what the stages ask of the
  worker (the compiled seeds, the full check, the two sets of views), deduplicated as they are (the
  coder's gate made the verdict the rest reuse), called as plain Python;
- pipeline: `runner.generate` — the same steps as partitioned Dagster assets with their blocking
  checks, the event log, the IO manager, the registry, promotion, index and gallery.
overhead = pipeline / (direct + the publish job's own work, its three assets called as plain Python
in the pipeline's home) (goal ≤ 1.15): the dataset's index, plots and gallery are the product's work,
which the direct path would do too; Dagster's share of publishing stays on the pipeline's side.

Throughput. A batch of 10 mixed candidates (10 families, both tiers) through `benchgen generate --batch`
in a fresh process (its candidates side by side, as queued runs), then:
- floor: the same candidates' bare work (`bench/floor.py`: build, judge, 48 views each), summed and
  divided by the cores, timed in this process after the batch;
- wall / floor (goal ≤ 1.5), and the cores busy during the batch (from /proc/stat, goal ≥ 1.7 of 2);
- one candidate alone from a cold `benchgen generate` (imports and start-up included, and warm
  sandboxes of its own: it waits for the batch's to stop) against 2 × its floor + 10 s;
- the peak RSS of the CLI process, each run, the run queue's daemon and code server, and the warm
  builder and judge (goal ≤ 1024 MB each).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

REQUESTS = ["a drawer that must be pulled open", "a box must pass under a low bar"]
BATCH = [
    ("a steel ball of radius 40 mm must be moved 1 m sideways", 1),
    ("a ball must clear a wall into a bin", 1),
    ("a box must pass under a low bar", 1),
    ("a block must go through a window in a wall", 1),
    ("lift a box onto a shelf", 1),
    ("class-1 lever where the fulcrum position varies", 2),
    ("a drawer that must be pulled open", 2),
    ("turn a crank to lift a weight", 2),
    ("push a ball through a self-closing gate", 2),
    ("lower a drawbridge so a ball can cross a gap", 2),
]
COLD = "a box must pass under a low bar"


def direct(prompt: str, seeds: int) -> float:
    from benchgen_dagster.agent.configuration import SessionConfig
    from benchgen_dagster.agent.session import run_session
    from benchgen_dagster.paths import benchgen_home
    from benchgen_dagster.worker.check import Checker

    started = time.perf_counter()
    workspace = benchgen_home() / "direct"
    result = run_session(SessionConfig(prompt=prompt, workspace=workspace, check_seeds=seeds, model_retries=1))
    # What the stages ask of the worker after the session, deduplicated as they are: the compiled seeds,
    # the simulated check and the promotion's renders all reuse the verdict the coder's gate made.
    checker, script = Checker(home=benchgen_home()), workspace / "script.py"
    checker.check(script, list(range(seeds)), compiled_dest=workspace / "compiled")
    report = checker.check(script, list(range(seeds)))
    for with_solution in (False, True):
        checker.render(script, 0, workspace / f"views-{with_solution}", 320, 240, False, with_solution=with_solution)
    assert result.decision == "approved" and report.passed, (result.decision, report.failures[:3])
    return time.perf_counter() - started


def pipeline(prompt: str) -> tuple[float, float, float]:
    """The candidate through the assets; the publish job it ends with (index, quality plots, gallery), timed
    once more on its own; and that job's own work, called as plain Python in the same home, which the
    direct side is charged with: it is the product's work, not Dagster's."""
    from benchgen_dagster import runner
    from benchgen_dagster.defs.dataset_index import benchmark_dataset
    from benchgen_dagster.defs.gallery import dataset_gallery
    from benchgen_dagster.defs.quality import dataset_quality
    from benchgen_dagster.models.registry import BenchmarkRequest, CandidateStatus

    started = time.perf_counter()
    (candidate,) = runner.generate([BenchmarkRequest(prompt=prompt)])
    assert candidate.status == CandidateStatus.PROMOTED, candidate.reason
    total = time.perf_counter() - started
    started = time.perf_counter()
    assert runner.publish(runner.dagster_instance())
    publish_job = time.perf_counter() - started
    import dagster as dg

    started = time.perf_counter()
    benchmark_dataset(registry=runner.registry())
    dataset_quality(dg.build_asset_context())
    dataset_gallery(artifacts=runner.artifacts())
    return total, publish_job, time.perf_counter() - started


def in_fresh_home(run, *args):  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as home:
        os.environ["BENCHGEN_HOME"] = home
        os.environ.pop("DAGSTER_HOME", None)
        from benchgen_dagster import runner

        runner._resolved.clear()
        return run(*args)


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (every process, ours and others)."""
    fields = [float(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def promoted_floor(candidates, seeds: int) -> float:  # type: ignore[no-untyped-def]
    """The promoted candidates' bare work, one after another in this process."""
    from bench.floor import floor
    from benchgen_dagster.paths import dataset_dir

    total = 0.0
    for candidate in candidates:
        if candidate.benchmark_id:
            total += floor(dataset_dir() / candidate.benchmark_id / "script.py", list(range(seeds))).candidate_s
    return total


def run_cli(args: list[str]) -> tuple[float, float, dict[str, float]]:
    """`benchgen ARGS` in a fresh process, as a user runs it: its wall time, its own peak RSS (MB) and that
    of the processes it starts (the run queue's daemon and code server, each run) and of the warm
    sandboxes, read from /proc while it runs (a child's ru_maxrss would start from this process's)."""
    env = {k: v for k, v in os.environ.items() if k != "BENCHGEN_CACHE_DIR"}
    command = [sys.executable, "-m", "benchgen_dagster.cli", *args]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe nobody reads while it runs
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        peak, others = 0.0, {}
        while process.poll() is None:
            peak = max(peak, own_peak_rss_mb(process.pid))
            for kind, seen in process_peaks(process.pid).items():
                others[kind] = max(others.get(kind, 0.0), seen)
            time.sleep(0.3)
        wall = time.perf_counter() - started
        errors.seek(0)
        assert process.returncode == 0, errors.read().decode(errors="replace")[-2000:]
    return wall, peak, others


def own_peak_rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    return next((int(line.split()[1]) / 1024.0 for line in status.splitlines() if line.startswith("VmHWM:")), 0.0)


# What a process under the command is, by a word of its command line.
_KINDS = (
    (b"benchgen_dagster.queue_daemon", "queue daemon"),
    (b"grpc", "code server"),  # dagster api grpc
    (b"from multiprocessing.spawn import spawn_main", "run"),
)


def process_peaks(pid: int) -> dict[str, float]:
    """The peak RSS of each kind of process under `pid`, and of the warm sandboxes wherever they run (the
    first run to need one starts it, and it outlives that run)."""
    peaks: dict[str, float] = {}
    for current in [pid, *_descendants(pid)]:
        command = _command(current)
        kind = next((name for marker, name in _KINDS if any(arg.startswith(marker) for arg in command)), None)
        if kind and current != pid:
            peaks[kind] = max(peaks.get(kind, 0.0), own_peak_rss_mb(current))
    for entry in Path("/proc").glob("[0-9]*"):
        command = _command(int(entry.name))
        if b"benchgen_dagster.worker.zygote" in command:
            role = command[command.index(b"benchgen_dagster.worker.zygote") + 2].decode()
            peaks[role] = max(peaks.get(role, 0.0), own_peak_rss_mb(int(entry.name)))
    return peaks


def wait_for_no_warm_sandboxes(timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not any(b"benchgen_dagster.worker.zygote" in _command(int(p.name)) for p in Path("/proc").glob("[0-9]*")):
            return
        time.sleep(1)
    raise RuntimeError("the batch's warm sandboxes did not stop: the cold candidate would not be cold")


def _command(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def _descendants(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        try:
            # Children are listed per thread: a process may be started by any of its threads.
            children = [
                int(c)
                for task in Path(f"/proc/{current}/task").iterdir()
                for c in (task / "children").read_text().split()
            ]
        except OSError:
            continue
        found += children
        pending += children
    return found


def batch(seeds: int) -> dict[str, float]:
    """`benchgen generate --batch` for the 10 candidates, then their floor in this process."""
    import yaml

    from benchgen_dagster.models.registry import CandidateStatus
    from benchgen_dagster.paths import benchgen_home
    from benchgen_dagster.runner import registry

    batch_file = benchgen_home() / "batch.yaml"
    batch_file.write_text(yaml.safe_dump([{"prompt": prompt, "tier": tier} for prompt, tier in BATCH]))
    busy = busy_cpu_seconds()
    wall, cli, others = run_cli(["generate", "--batch", str(batch_file)])
    cores_busy = (busy_cpu_seconds() - busy) / wall
    promoted = [c for c in registry().all() if c.status == CandidateStatus.PROMOTED]
    floor_s = promoted_floor(promoted, seeds) / len(os.sched_getaffinity(0))
    return {
        "wall": wall,
        "floor": floor_s,
        "cores_busy": cores_busy,
        "promoted": len(promoted),
        "cli_rss": cli,
        **{f"{kind}_rss": peak for kind, peak in others.items()},
    }


def cold_candidate(seeds: int) -> dict[str, float]:
    """`benchgen generate` for one candidate from a cold command; its floor measured after, in this process."""
    from benchgen_dagster.runner import registry

    wait_for_no_warm_sandboxes()  # the batch's stop when idle: this command starts its own
    wall, peak, _ = run_cli(["generate", COLD, "--tier", "1"])
    (candidate,) = registry().all()
    return {"wall": wall, "floor": promoted_floor([candidate], seeds), "cli_rss": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--overhead-only", action="store_true", help="skip the throughput batch")
    args = parser.parse_args()
    os.environ["BENCHGEN_SEEDS"] = str(args.seeds)
    # Import everything once up front, so neither side pays the imports, and start the warm builder (one
    # per machine): otherwise whichever side runs first pays its start. The judge's is one per cache
    # folder, so each side starts its own in its fresh home.
    import benchgen_dagster.definitions
    import benchgen_dagster.worker.check  # noqa: F401
    from benchgen_dagster.models.settings import CheckSettings
    from benchgen_dagster.worker.warm import WarmSandbox

    WarmSandbox.shared(CheckSettings().sandbox)

    table = Table(title=f"pipeline overhead ({args.seeds} seeds per candidate)")
    columns = ("request", "direct s", "+ publishing's work s", "pipeline s", "overhead", "publish job s")
    for column in (*columns, "overhead w/o publishing"):
        table.add_column(column)
    ratios = []
    for n, prompt in enumerate(REQUESTS):
        if n % 2 == 0:
            first = in_fresh_home(direct, prompt, args.seeds)
            second, publish_job, publish_work = in_fresh_home(pipeline, prompt)
        else:
            second, publish_job, publish_work = in_fresh_home(pipeline, prompt)
            first = in_fresh_home(direct, prompt, args.seeds)
        # The same work on both sides: the direct path is charged with what publishing does, as plain Python.
        ratios.append(second / (first + publish_work))
        without = (second - publish_job) / first
        table.add_row(
            prompt,
            f"{first:.1f}",
            f"{publish_work:.1f}",
            f"{second:.1f}",
            f"{ratios[-1]:.3f}",
            f"{publish_job:.1f}",
            f"{without:.3f}",
        )
    Console().print(table)
    mean = sum(ratios) / len(ratios)
    verdict = "meets" if mean <= 1.15 else "MISSES"
    Console().print(f"mean overhead {mean:.3f} ({verdict} the ≤ 1.15 goal)", highlight=False)
    if args.overhead_only:
        return

    found = in_fresh_home(batch, args.seeds)
    cold = in_fresh_home(cold_candidate, args.seeds)
    ratio = found["wall"] / found["floor"]
    bound = 2 * cold["floor"] + 10
    table = Table(title=f"throughput: {len(BATCH)} mixed candidates, {args.seeds} seeds each, {os.cpu_count()} cores")
    for column in ("measure", "value", "goal"):
        table.add_column(column)
    table.add_row("promoted", f"{found['promoted']:.0f} of {len(BATCH)}", "")
    table.add_row("batch wall s", f"{found['wall']:.1f}", "")
    table.add_row("floor s (bare work / cores)", f"{found['floor']:.1f}", "")
    table.add_row("wall / floor", f"{ratio:.2f}", "≤ 1.5")
    table.add_row("cores busy during the batch", f"{found['cores_busy']:.2f}", "≥ 1.7")
    table.add_row("one cold candidate s", f"{cold['wall']:.1f}", f"≤ {bound:.1f} (2 × floor {cold['floor']:.1f} + 10)")
    table.add_row(
        "CLI peak RSS MB: the batch / one cold candidate", f"{found['cli_rss']:.0f} / {cold['cli_rss']:.0f}", "≤ 1024"
    )
    for kind in ("run", "queue daemon", "code server", "builder", "judge"):
        name = {"builder": "warm builder", "judge": "warm judge", "run": "each run"}.get(kind, kind)
        table.add_row(f"{name} peak RSS MB", f"{found.get(f'{kind}_rss', 0.0):.0f}", "≤ 1024")
    Console().print(table)


if __name__ == "__main__":
    main()
