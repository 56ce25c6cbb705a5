"""What `from utils import ...` gives an agent's own Python inside the sandbox.

These run in-process there (the sandbox is the boundary), on the workspace's `script.py`, and
return plain dicts an agent can print. The authoritative gate is the worker's full sandboxed check,
run by the graph after the coder; these are for the coder's own verification loop.
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


def _build(seed: int) -> Any:
    spec = importlib.util.spec_from_file_location("benchmark_script", SCRIPT)
    if spec is None or spec.loader is None:
        raise FileNotFoundError("no script.py in the workspace")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(seed)


def _run(seeds: int, simulate_too: bool) -> dict[str, Any]:
    from benchgen_dagster.worker.compile import DecompositionCache, compile_scene
    from benchgen_dagster.worker.simulate import simulate_scene
    from benchgen_dagster.worker.validate import validate_compiled

    settings = CheckSettings()
    failures: list[dict[str, Any]] = []
    for seed in range(seeds):
        try:
            scene = _build(seed)
            out = _fresh_folder(f"seed-{seed}-")
            compiled = compile_scene(
                scene, out, settings.geometry, DecompositionCache(None, out / "cache"), settings.simulation.timestep_s
            )
            results, model = validate_compiled(compiled, seed, settings.geometry)
            if simulate_too and model is not None:
                results += simulate_scene(model, compiled.spec, seed, settings.simulation)[1]
        except Exception as error:
            failures.append({"check": "script_runs", "seed": seed, "message": f"{type(error).__name__}: {error}"})
            continue
        failures += [{"check": r.check.value, "seed": seed, "message": r.message} for r in results if not r.passed]
    return {"passed": not failures, "seeds": seeds, "failures": failures}


def validate(seeds: int = 2) -> dict[str, Any]:
    """Geometry, zones, spawn overlap and MJCF checks of script.py for seeds 0..seeds-1."""
    return _run(seeds, simulate_too=False)


def simulate(seeds: int = 2) -> dict[str, Any]:
    """validate() plus the stability and non-triviality simulation."""
    return _run(seeds, simulate_too=True)


def render(seed: int = 0, width: int = 320, height: int = 240) -> dict[str, Any]:
    """PNG views of one seed into renders/."""
    from benchgen_dagster.worker.compile import DecompositionCache, compile_scene, load_compiled_model
    from benchgen_dagster.worker.render import render_views

    settings = CheckSettings()
    out = _fresh_folder(f"render-{seed}-")
    compiled = compile_scene(
        _build(seed), out, settings.geometry, DecompositionCache(None, out / "cache"), settings.simulation.timestep_s
    )
    model = load_compiled_model(compiled.mjcf_path)
    written = render_views(model, compiled.spec, Path("renders"), width, height, settings.render)
    return {"views": [str(p) for p in written]}


def submit_for_review(note: str = "") -> dict[str, Any]:
    """Mark script.py as ready for the reviewer."""
    Path("submitted.json").write_text(json.dumps({"script": "script.py", "note": note}))
    return {"submitted": True}
