"""`benchgen export --format hf`: a dataset that Hugging Face `datasets` loads back, row for row as the
benchmark folders hold it, its solutions withheld by default; and `--withhold-solutions` for folders."""

import io
import json
from pathlib import Path

import pytest
import yaml
from PIL import Image

from benchgen_dagster.hf_export import ExportError, script_without_solution, split_of
from benchgen_dagster.library import family
from benchgen_dagster.worker.check import Checker
from tests.conftest import benchgen

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("require_bubblewrap")]
SEEDS = [0, 1]


def _png(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), colour).save(out, format="PNG")
    return out.getvalue()


def _promoted(home: Path, benchmark_id: str, name: str, checker: Checker) -> Path:
    """A benchmark folder as promotion leaves one: the script, the judge's seeds, its reports, renders."""
    fam = family(name)
    folder = home / "dataset" / benchmark_id
    folder.mkdir(parents=True)
    (folder / "script.py").write_text(fam.source())
    report = checker.check(folder / "script.py", SEEDS, compiled_dest=folder / "seeds")
    assert report.passed, report.failures
    (folder / "reports").mkdir()
    (folder / "reports" / "validation.json").write_text(report.model_dump_json())
    (folder / "reports" / "simulation.json").write_text(json.dumps({"solution": "the reference's trace"}))
    for view, colour in (("renders/view_az000_el35.png", "blue"), ("renders/solution/view_az000_el35.png", "red")):
        (folder / view).parent.mkdir(parents=True, exist_ok=True)
        (folder / view).write_bytes(_png(colour))
    drawn = report.outcomes[0].scene.params if report.outcomes[0].scene else []
    manifest = {
        "id": benchmark_id,
        "title": fam.description[:40],
        "tier": fam.tier,
        "family": name,
        "seeds_checked": SEEDS,
        "parameters": {
            p.name: {"nominal": p.nominal, "low": p.low, "high": p.high, "min": p.low, "max": p.high} for p in drawn
        },
        "difficulty": {"score": 42.0, "features": {}, "seeds": 2},
        "solvability": {
            "status": "proven",
            "seeds": SEEDS,
            "reference_solution": {"parts": ["pusher"], "mass_g": 120.0},
        },
    }
    (folder / "benchmark.yaml").write_text(yaml.safe_dump(manifest))
    return folder


@pytest.fixture
def dataset(_benchgen_home: Path, checker: Checker, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.setenv("HF_HOME", str(_benchgen_home / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    # One benchmark in each split, by the rule (sha256 of the id).
    ids = [f"bm-{n}" for n in range(100)]
    train, test = next(i for i in ids if split_of(i) == "train"), next(i for i in ids if split_of(i) == "test")
    return {
        "train": _promoted(_benchgen_home, train, "under_low_bar", checker),
        "test": _promoted(_benchgen_home, test, "sliding_drawer", checker),
    }


def test_the_hf_export_loads_back_with_datasets_row_for_row(dataset: dict[str, Path], tmp_path: Path) -> None:
    from datasets import load_dataset

    dest = tmp_path / "hf"
    done = benchgen("export", str(dest), "--format", "hf")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "exported 4 rows (train 2, test 2; solutions withheld)" in done.stdout, done.stdout

    loaded = load_dataset(str(dest))
    assert sorted(loaded) == ["test", "train"]
    for split, folder in dataset.items():
        rows = list(loaded[split])
        manifest = yaml.safe_load((folder / "benchmark.yaml").read_text())
        assert [(r["benchmark_id"], r["seed"]) for r in rows] == [(manifest["id"], s) for s in SEEDS]
        scenes = {
            o["seed"]: o["scene"] for o in json.loads((folder / "reports" / "validation.json").read_text())["outcomes"]
        }
        for row in rows:
            seed = folder / "seeds" / str(row["seed"])
            assert row["mjcf"] == (seed / "scene.xml").read_text()
            assert row["mesh_names"] == sorted(p.name for p in (seed / "meshes").glob("*.stl"))
            assert row["meshes"][0] == (seed / "meshes" / row["mesh_names"][0]).read_bytes()
            scene = scenes[row["seed"]]
            assert row["goal_zone"] == [*scene["goal_zone"]["lo"], *scene["goal_zone"]["hi"]]
            assert row["moved_object"] == scene["moved_object"]
            assert row["max_weight_g"] == scene["constraints"]["max_weight_g"]
            drawn = {p["name"]: p["value"] for p in scene["params"]}
            assert {k: v["value"] for k, v in json.loads(row["parameters"]).items()} == drawn
            assert (row["tier"], row["family"], row["difficulty"]) == (manifest["tier"], manifest["family"], 42.0)
            assert row["solvability"] == "proven"
            # Only seed 0 is rendered: the scene's view, never the solution's.
            if row["seed"] == 0:
                (view,) = row["renders"]
                assert view.size == (8, 6) and view.convert("RGB").getpixel((0, 0)) == (0, 0, 255)
            else:
                assert row["renders"] == []
            # Withheld: the script builds the scene, and its solution() is cut out.
            assert "def build(" in row["script"] and "def solution(" not in row["script"]
            assert "def solution(" in (folder / "script.py").read_text() and row["solution_withheld"] is True

    card = (dest / "README.md").read_text()
    front = yaml.safe_load(card.split("---")[1])
    assert front["license"] == "cc-by-4.0"
    assert {f["split"] for f in front["configs"][0]["data_files"]} == {"train", "test"}
    assert "withheld" in card and "only seed 0 is\nrendered" in card

    again = tmp_path / "with"
    done = benchgen("export", str(again), "--format", "hf", "--with-solutions", "--license", "mit")
    assert done.returncode == 0, done.stdout + done.stderr
    assert yaml.safe_load((again / "README.md").read_text().split("---")[1])["license"] == "mit"
    assert all("def solution(" in r["script"] for r in load_dataset(str(again))["train"])


def test_a_folder_export_can_withhold_solutions_and_bad_input_is_one_line(
    dataset: dict[str, Path], tmp_path: Path
) -> None:
    plain = benchgen("export", str(tmp_path / "plain"))
    assert plain.returncode == 0 and (tmp_path / "plain" / dataset["train"].name / "renders" / "solution").is_dir()
    withheld = benchgen("export", str(tmp_path / "eval"), "--withhold-solutions")
    assert withheld.returncode == 0, withheld.stdout + withheld.stderr
    copy = tmp_path / "eval" / dataset["train"].name
    assert not (copy / "renders" / "solution").exists() and not (copy / "reports").exists()
    assert (copy / "renders" / "view_az000_el35.png").is_file() and (copy / "seeds" / "0" / "scene.xml").is_file()
    assert "def solution(" not in (copy / "script.py").read_text()
    kept = yaml.safe_load((copy / "benchmark.yaml").read_text())
    assert kept["solvability"] == {"status": "proven", "seeds": SEEDS} and kept["difficulty"]["score"] == 42.0

    for args, said in [
        (("--format", "csv"), "--format must be folder or hf"),
        (("--format", "hf", "--test-percent", "101"), "Invalid value for '--test-percent'"),
    ]:
        refused = benchgen("export", str(tmp_path / "bad"), *args)
        assert refused.returncode == 2 and said in refused.stderr and "Traceback" not in refused.stderr, refused.stderr
    assert not (tmp_path / "bad").exists()


def test_cutting_the_solution_keeps_the_rest_of_the_script_verbatim() -> None:
    source = '''"""Doc."""
import math

def build(seed, scale=1.0):
    return seed  # the scene


@staticmethod
def solution(seed, scale=1.0):
    """The reference."""
    return [math.pi]


def helper():
    return 1
'''
    cut = script_without_solution(source)
    assert "solution" not in cut and "@staticmethod" not in cut
    assert "def build(seed, scale=1.0):\n    return seed  # the scene\n" in cut and "def helper():" in cut
    with pytest.raises(ExportError, match="does not parse"):
        script_without_solution("def solution(:\n")
    # Bound any other way, it could survive the cut: refused.
    for hidden in (
        "solution = build\n",
        "if True:\n    def solution(seed):\n        return []\n",
        "from x import y as solution\n",
    ):
        with pytest.raises(ExportError, match="cannot be withheld"):
            script_without_solution("def build(seed):\n    return seed\n" + hidden)
    # A form feed is a line break to str.splitlines, not to the parser: the cut stays on the function.
    fed = "def build(seed):\n    return seed  # \x0c page\n\ndef solution(seed):\n    return [1]\n\nX = 1\n"
    assert script_without_solution(fed) == "def build(seed):\n    return seed  # \x0c page\n\n\nX = 1\n"


def test_an_empty_dataset_is_refused(_benchgen_home: Path, tmp_path: Path) -> None:
    (_benchgen_home / "dataset").mkdir(exist_ok=True)
    refused = benchgen("export", str(tmp_path / "hf"), "--format", "hf")
    assert refused.returncode == 2 and "nothing to export" in refused.stderr, refused.stdout + refused.stderr
