"""What `from utils import ...` gives an agent's own Python inside the sandbox.

These run in-process there, on the workspace's `script.py`, with the judge's own functions, and
return plain dicts an agent can print. They are advice only: they run inside the agent's sandbox,
where the agent's code could change what they say. The gate that counts is the graph's, which asks
the sandboxed builder and the trusted judge (`worker.check.Checker`).
"""

import importlib.util
import json
import tempfile
from pathlib import Path
from typing import Any

from benchgen_dagster.models.settings import CheckSettings

SCRIPT = Path("script.py")


def _fresh_folder(prefix: str) -> Path:
    # A new folder for every compile: MuJoCo, in one process, can serve a stale mesh when a scene is
    # rewritten at a path it has loaded before (seen as false spawn overlaps).
    return Path(tempfile.mkdtemp(prefix=prefix))


def _module() -> Any:
    spec = importlib.util.spec_from_file_location("benchmark_script", SCRIPT)
    if spec is None or spec.loader is None:
        raise FileNotFoundError("no script.py in the workspace")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(seeds: int, simulate_too: bool) -> dict[str, Any]:
    from benchgen_dagster.worker.local import judge_scene

    settings = CheckSettings()
    failures: list[dict[str, Any]] = []
    for seed in range(seeds):
        try:
            module = _module()
            solution = getattr(module, "solution", None)
            parts = solution(seed) if simulate_too and callable(solution) else None
            judged = judge_scene(
                module.build(seed), _fresh_folder(f"seed-{seed}-"), seed, parts, settings, simulate_too
            )
        except Exception as error:
            failures.append({"check": "script_runs", "seed": seed, "message": f"{type(error).__name__}: {error}"})
            continue
        failures += [
            {"check": r.check.value, "seed": seed, "message": r.message} for r in judged.outcome.results if not r.passed
        ]
    return {"passed": not failures, "seeds": seeds, "failures": failures, "advice_only": True}


def validate(seeds: int = 2) -> dict[str, Any]:
    """Geometry, zones, spawn overlap and MJCF checks of script.py for seeds 0..seeds-1."""
    return _run(seeds, simulate_too=False)


def simulate(seeds: int = 2) -> dict[str, Any]:
    """validate() plus the stability, non-triviality and (with a solution()) solvability runs."""
    return _run(seeds, simulate_too=True)


def render(seed: int = 0, width: int = 320, height: int = 240) -> dict[str, Any]:
    """PNG views of one seed into a fresh folder (the worker tools' render_views fills /renders/)."""
    from benchgen_dagster.worker.local import judge_scene
    from benchgen_dagster.worker.render import render_views

    settings = CheckSettings()
    judged = judge_scene(_module().build(seed), _fresh_folder(f"render-{seed}-"), seed, None, settings, simulate=False)
    if judged.outcome.scene is None or not (judged.out / "scene.xml").is_file():
        return {"views": [], "failures": [r.message for r in judged.outcome.results if not r.passed]}
    out = _fresh_folder(f"views-{seed}-")
    written = render_views(judged.model(), judged.outcome.scene, out, width, height, settings.render)
    return {"views": [str(p) for p in written]}


def submit_for_review(note: str = "") -> dict[str, Any]:
    """Mark script.py as ready for the reviewer."""
    Path("submitted.json").write_text(json.dumps({"script": "script.py", "note": note}))
    return {"submitted": True}
