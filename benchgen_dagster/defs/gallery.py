"""The gallery: a static page of every promoted benchmark, with the dataset quality plots on top.

The page is a Jinja2 template (`templates/gallery.html.j2`, autoescaped) filled from each benchmark's
manifest and the renders in its folder.
"""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import jinja2

from benchgen_dagster.defs.artifacts import ArtifactStoreResource
from benchgen_dagster.defs.candidates import code_version
from benchgen_dagster.defs.dataset_index import AFTER_PROMOTIONS, pulled_dataset
from benchgen_dagster.defs.quality import QUALITY_WORK
from benchgen_dagster.defs.resources import RegistryResource
from benchgen_dagster.models.manifest import BenchmarkManifest, read_manifests
from benchgen_dagster.paths import gallery_path, quality_dir
from benchgen_dagster.worker.safe_files import write_file_atomically

QUALITY_PLOTS = ("counts", "difficulty", "parameters")
TEMPLATE = "gallery.html.j2"
_TEMPLATES = Path(__file__).parent / "templates"


def _views(renders: Path, benchmark: str, under: str) -> list[dict[str, str]]:
    """Up to four views at 35° elevation, as the page links them (from gallery/ to dataset/)."""
    views = sorted(renders.glob("view_az*_el35.png"))[:4]
    return [{"src": f"../dataset/{benchmark}/{under}/{v.name}", "alt": v.stem} for v in views]


def gallery_card(manifest: BenchmarkManifest) -> dict[str, Any]:
    """What the page shows of one benchmark: its renders, tier, checks, judge, parameters and prompt."""
    folder = manifest.path
    judge = manifest.judge
    return {
        "id": manifest.id,
        "title": manifest.title or manifest.id,
        "tier": manifest.tier,
        "family": manifest.family,
        # Its layout grown to reach the request: the parameters below are in the script's units, before it.
        "grown": f"layout grown {manifest.scale:g}×" if manifest.scale != 1 else "",
        "seeds": len(manifest.seeds_checked),
        "solvability": manifest.solvability_status,
        "difficulty": manifest.difficulty.score if manifest.difficulty else "–",
        "judge": judge.status if judge else "never judged by the trusted judge",
        "judge_version": (judge.version or "") if judge else "",
        "decision": manifest.review.decision,
        "views": _views(folder / "renders", folder.name, "renders"),
        "solution_views": _views(folder / "renders" / "solution", folder.name, "renders/solution"),
        "parameters": [
            {"name": name, "declared": f"{r.low:g}–{r.high:g}", "drawn": f"{r.min:g}–{r.max:g}"}
            for name, r in sorted(manifest.parameters.items())
        ],
        "prompt": manifest.provenance.prompt or "",
        "model": manifest.provenance.model or "",
    }


def render_page(template: str, out: Path, **values: object) -> None:
    """A static page from one of `templates/` (autoescaped, every name it uses given), stamped with the time."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    page = environment.get_template(template).render(
        **values, generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    )
    write_file_atomically(out, page.encode())


def render_gallery(manifests: list[BenchmarkManifest], out: Path) -> None:
    """A static page: each promoted benchmark's renders, tier, parameters and checks."""
    out.parent.mkdir(parents=True, exist_ok=True)
    render_page(
        TEMPLATE,
        out,
        cards=[gallery_card(m) for m in manifests],
        plots=[name for name in QUALITY_PLOTS if (out.parent / "quality" / f"{name}.png").is_file()],
    )


@dg.asset(
    deps=["benchmark_dataset", "dataset_quality"],
    code_version=code_version(__name__, "models", f"defs/templates/{TEMPLATE}"),
    group_name="dataset",
    kinds={"html"},
    automation_condition=AFTER_PROMOTIONS,
    description="A static HTML page of every promoted benchmark: renders with and without the reference "
    "solution, tier, difficulty, parameters, checks; the dataset quality plots on top.",
)
def dataset_gallery(artifacts: ArtifactStoreResource, registry: RegistryResource) -> dg.MaterializeResult:
    manifests = read_manifests(pulled_dataset(registry, artifacts))
    artifacts.pull(QUALITY_WORK, quality_dir())  # the plots dataset_quality made, wherever it ran
    out = gallery_path()
    render_gallery(manifests, out)
    location = artifacts.publish(out.parent, "gallery")
    return dg.MaterializeResult(
        metadata={
            "benchmarks": len(manifests),
            "page": dg.MetadataValue.path(str(out)),
            "published": location,
        }
    )
