"""The dataset as Hugging Face `datasets` loads it: `benchgen export DEST --format hf`.

DEST gets `data/<split>-00000-of-00001.parquet` and a dataset card (`README.md`, its YAML naming the
licence, the size and the splits), so `datasets.load_dataset(DEST)` loads it, and the Hub shows it.

**A row per benchmark × seed**, for each seed the benchmark was judged and promoted on: its id, title,
tier and family; the seed; the judge's MJCF (`scene.xml`) and meshes (STL, by name); the moved object,
the zones and the constraints as that seed drew them; the parameters (each one's range and that seed's
value); the difficulty score; the script; and the renders as images where the seed has them (only seed
0 is rendered today: every other seed's `renders` is empty).

**Splits**: a benchmark is in `test` when the first 8 hex digits of sha256(its id), as a number, modulo
100 are below the test share (20 by default), else in `train`. All of a benchmark's seeds share its split,
and the rule needs nothing but the id, so a benchmark keeps its split as the dataset grows.

**Withheld solutions** (the default here): `script.py` also holds the reference `solution()`, so the
script is shipped with that function cut out (`script_without_solution`), and neither the views of the
solution nor the judge's reports (which trace the reference solution) are shipped. The built seeds
(MJCF, meshes) are the scene alone.
"""

import ast
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from benchgen_dagster.models.manifest import BenchmarkManifest, read_manifests

DEFAULT_LICENSE = "cc-by-4.0"
DEFAULT_TEST_PERCENT = 20
SPLITS = ("train", "test")


class ExportError(ValueError):
    """The dataset cannot be exported as asked (a script that does not parse, `datasets` missing)."""


def split_of(benchmark_id: str, test_percent: int = DEFAULT_TEST_PERCENT) -> str:
    bucket = int(hashlib.sha256(benchmark_id.encode()).hexdigest()[:8], 16) % 100
    return "test" if bucket < test_percent else "train"


def _binds_solution(tree: ast.Module) -> bool:
    """Whether the module's top level (its `if` and `try` blocks included) binds the name `solution`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == "solution":
            return True
        if isinstance(node, ast.Name) and node.id == "solution" and isinstance(node.ctx, ast.Store | ast.Del):
            return True
        if isinstance(node, ast.alias) and (node.asname or node.name.split(".")[0]) == "solution":
            return True
    return False


def script_without_solution(source: str) -> str:
    """The script with its top-level `solution` function (and its decorators) cut out, the rest verbatim.
    A script that binds `solution` any other way (assigned, imported, defined inside a block) is refused:
    what would be left could still hold it. Helpers only the solution used stay."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise ExportError(f"the script does not parse, so its solution cannot be cut out: {error}") from None
    # Lines as the parser counts them (\n, \r\n or \r), not str.splitlines' (which also splits at \x0c).
    lines = re.split(r"(?<=\n)|(?<=\r)(?!\n)", source)
    cut = [
        (min([node.lineno, *(d.lineno for d in node.decorator_list)]), node.end_lineno or node.lineno)
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "solution"
    ]
    for start, end in sorted(cut, reverse=True):
        del lines[start - 1 : end]
    kept = "".join(lines)
    try:
        left = ast.parse(kept)
    except SyntaxError as error:
        raise ExportError(f"the script does not parse once its solution is cut out: {error}") from None
    if _binds_solution(left):
        raise ExportError("the script binds `solution` other than as one top-level function: it cannot be withheld")
    return kept


def _zone(zone: dict[str, Any] | None) -> list[float] | None:
    return None if zone is None else [*map(float, zone["lo"]), *map(float, zone["hi"])]


def _seed_scenes(folder: Path) -> dict[int, dict[str, Any]]:
    """Each judged seed's scene (zones, constraints, drawn parameters), from the judge's validation report."""
    report = folder / "reports" / "validation.json"
    if not report.is_file():
        return {}
    outcomes = json.loads(report.read_text()).get("outcomes", [])
    return {int(o["seed"]): o["scene"] for o in outcomes if o.get("scene")}


def _rows(manifest: BenchmarkManifest, withhold: bool, test_percent: int) -> list[dict[str, Any]]:
    folder = manifest.path
    source = (folder / "script.py").read_text()
    script = script_without_solution(source) if withhold else source
    scenes = _seed_scenes(folder)
    views = sorted((folder / "renders").glob("view_*.png"))
    rows = []
    for seed_folder in sorted((folder / "seeds").iterdir(), key=lambda p: int(p.name) if p.name.isdigit() else -1):
        if not seed_folder.name.isdigit() or not (seed_folder / "scene.xml").is_file():
            continue
        seed = int(seed_folder.name)
        scene = scenes.get(seed, {})
        meshes = sorted((seed_folder / "meshes").glob("*.stl"))
        limits = scene.get("constraints", {})
        drawn = {p["name"]: p["value"] for p in scene.get("params", [])}
        parameters = {
            name: {**r.model_dump(include={"nominal", "low", "high"}), "value": drawn.get(name)}
            for name, r in manifest.parameters.items()
        }
        rows.append(
            {
                "benchmark_id": manifest.id,
                "title": manifest.title or "",
                "tier": manifest.tier,
                "family": manifest.family,
                "seed": seed,
                "split": split_of(manifest.id, test_percent),
                "mjcf": (seed_folder / "scene.xml").read_text(),
                "mesh_names": [m.name for m in meshes],
                "meshes": [m.read_bytes() for m in meshes],
                "moved_object": scene.get("moved_object"),
                "workspace": _zone(scene.get("workspace")),
                "goal_zone": _zone(scene.get("goal_zone")),
                "build_zone": _zone(scene.get("build_zone")),
                "forbid_zones": [_zone(z) for z in scene.get("forbid_zones", [])],
                "max_weight_g": limits.get("max_weight_g"),
                "max_unit_cost": limits.get("max_unit_cost"),
                "parameters": json.dumps(parameters, sort_keys=True),
                "difficulty": manifest.difficulty.score if manifest.difficulty else None,
                "empirical_difficulty": manifest.empirical_difficulty.score if manifest.empirical_difficulty else None,
                "solvability": manifest.solvability_status,
                "renders": [{"bytes": v.read_bytes(), "path": v.name} for v in views] if seed == 0 else [],
                "script": script,
                "solution_withheld": withhold,
            }
        )
    return rows


def _features() -> Any:
    from datasets import Features, Image, List, Value

    zone = List(Value("float64"))
    return Features(
        {
            "benchmark_id": Value("string"),
            "title": Value("string"),
            "tier": Value("int32"),
            "family": Value("string"),
            "seed": Value("int64"),
            "split": Value("string"),
            "mjcf": Value("string"),
            "mesh_names": List(Value("string")),
            "meshes": List(Value("binary")),
            "moved_object": Value("string"),
            "workspace": zone,
            "goal_zone": zone,
            "build_zone": zone,
            "forbid_zones": List(zone),
            "max_weight_g": Value("float64"),
            "max_unit_cost": Value("float64"),
            "parameters": Value("string"),
            "difficulty": Value("float64"),
            "empirical_difficulty": Value("float64"),
            "solvability": Value("string"),
            "renders": List(Image()),
            "script": Value("string"),
            "solution_withheld": Value("bool"),
        }
    )


def _card(counts: dict[str, int], benchmarks: int, license_id: str, withhold: bool, test_percent: int) -> str:
    from benchgen_dagster.worker.versions import judge_version

    rows = sum(counts.values())
    size = "n<1K" if rows < 1000 else "1K<n<10K" if rows < 10_000 else "10K<n<100K"
    front = {
        "license": license_id,
        "pretty_name": "benchgen mechanical-engineering benchmarks",
        "size_categories": [size],
        "tags": ["mechanical-engineering", "benchmark", "mujoco", "build123d", "cad", "physics"],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": s, "path": f"data/{s}-*.parquet"} for s in SPLITS if counts.get(s)],
            }
        ],
    }
    import yaml

    split_lines = "\n".join(f"- `{s}`: {counts[s]} rows" for s in SPLITS if counts.get(s))
    solutions = (
        "The reference solutions are **withheld**: each row's `script` is the benchmark's script with its "
        "`solution()` function cut out, and no view of a solution is included. Evaluate solvers with "
        "`benchgen evaluate` against the full dataset."
        if withhold
        else "The reference solutions are included: each row's `script` holds its `solution()`."
    )
    return f"""---
{yaml.safe_dump(front, sort_keys=False).strip()}
---

# benchgen mechanical-engineering benchmarks

{benchmarks} benchmarks, {rows} rows: one per benchmark × seed it was judged on.

Each benchmark is a parametric build123d script: a scene (fixed and moving parts, a moved object, a
goal zone, a build zone and forbid zones, weight and cost limits) that a solver must change so that the
moved object ends in the goal and at rest. Made with benchgen (`benchgen export --format hf`): a
planner, a coder and a reviewer agent wrote each script; a sandboxed builder built it for every seed;
benchgen's trusted judge ({judge_version()}) compiled the meshes and the MuJoCo MJCF, checked the
geometry (valid solids, inside the workspace, no interpenetration, consistent zones), the physics
(stable, not solved by itself) and, where the script has one, the reference solution (it solves every
seed within the rules: `solvability` is `proven`; `unproven` where a curator promoted it without one);
then a reviewer approved it. The zones, limits and drawn parameters come from the judge's report of
each seed; a benchmark promoted before that report was kept has them empty.

## Fields

`benchmark_id`, `title`, `tier`, `family`, `seed`, `split`; `mjcf` (the judge's scene.xml) with
`mesh_names` and `meshes` (STL bytes, the files scene.xml names); `moved_object`; `workspace`,
`goal_zone`, `build_zone` (lo x, y, z, hi x, y, z in mm) and `forbid_zones`; `max_weight_g`,
`max_unit_cost`; `parameters` (JSON: each parameter's nominal, low and high, and this seed's value);
`difficulty` (0 easiest – 100 hardest, from the scene's features); `empirical_difficulty` (the same scale, from
the solvers evaluated on it; null until one has been); `solvability`; `renders` (images: only seed 0 is
rendered, so every other seed's list is empty); `script`; `solution_withheld`.

## Splits

{split_lines}

A benchmark is in `test` when sha256(its id)'s first 8 hex digits, as a number, modulo 100 are below
{test_percent}; else in `train`. All seeds of a benchmark are in the same split.

## Solutions

{solutions}

## Licence

{license_id}.
"""


def export_hf(
    dataset: Path,
    dest: Path,
    withhold: bool = True,
    license_id: str = DEFAULT_LICENSE,
    test_percent: int = DEFAULT_TEST_PERCENT,
) -> dict[str, int]:
    """Write `dataset` to `dest` (new or empty) as a Hugging Face dataset; returns the rows per split."""
    try:
        from datasets import Dataset
    except ImportError:
        raise ExportError("the hf format needs Hugging Face `datasets`: pip install 'benchgen-dagster[hf]'") from None
    manifests = read_manifests(dataset)
    rows = [row for manifest in manifests for row in _rows(manifest, withhold, test_percent)]
    if not rows:
        raise ExportError("the dataset has no promoted benchmark with a judged seed: nothing to export")
    counts = {}
    (dest / "data").mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        chosen = [r for r in rows if r["split"] == split]
        if chosen:
            table = Dataset.from_list(chosen, features=_features())
            table.to_parquet(str(dest / "data" / f"{split}-00000-of-00001.parquet"))
            counts[split] = len(chosen)
    (dest / "README.md").write_text(_card(counts, len(manifests), license_id, withhold, test_percent))
    return counts
