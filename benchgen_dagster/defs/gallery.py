"""The gallery: a static page of every promoted benchmark, with the dataset quality plots on top."""

import html
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

from benchgen_dagster.defs.candidates import code_version
from benchgen_dagster.defs.dataset_index import AFTER_PROMOTIONS
from benchgen_dagster.defs.resources import ArtifactStoreResource
from benchgen_dagster.models.manifest import BenchmarkManifest, read_manifests
from benchgen_dagster.paths import dataset_dir, gallery_path
from benchgen_dagster.worker.safe_files import write_file_atomically

QUALITY_PLOTS = ("counts", "difficulty", "parameters")


def _views(renders: Path, benchmark: str, under: str) -> str:
    views = sorted(renders.glob("view_az*_el35.png"))[:4]
    return "".join(
        f'<img src="{html.escape(f"../dataset/{benchmark}/{under}/{v.name}")}" alt="{html.escape(v.stem)}" '
        'loading="lazy">'
        for v in views
    )


def render_gallery(benchmarks: list[BenchmarkManifest], out: Path) -> None:
    """A static page: each promoted benchmark's renders, tier, parameters and checks."""
    cards = []
    manifests: list[dict[str, Any]] = [{**b.document(), "path": str(b.path)} for b in benchmarks]
    for manifest in manifests:
        folder = Path(manifest["path"])
        images = _views(folder / "renders", folder.name, "renders")
        solved = _views(folder / "renders" / "solution", folder.name, "renders/solution")
        solvability = manifest.get("solvability") or {"status": "unproven"}
        measured = manifest.get("difficulty") or {}
        judge = manifest.get("judge") or {"status": "never judged by the trusted judge"}
        solution_row = (
            f'<p class="label">with the reference solution</p><div class="views">{solved}</div>' if solved else ""
        )
        params = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{r['low']:g}–{r['high']:g}</td>"
            f"<td>{r['min']:g}–{r['max']:g}</td></tr>"
            for name, r in sorted((manifest.get("parameters") or {}).items())
        )
        provenance = manifest.get("provenance", {})
        cards.append(
            f'<section class="card"><h2>{html.escape(str(manifest.get("title", manifest["id"])))}</h2>'
            f'<p class="meta">tier {html.escape(str(manifest.get("tier")))} · '
            f"{html.escape(str(manifest.get('family')))}"
            f" · {len(manifest.get('seeds_checked', []))} seeds checked · all checks passed · solvability: "
            f"{html.escape(str(solvability.get('status')))} · difficulty {html.escape(str(measured.get('score', '–')))}"
            f" · judge: {html.escape(str(judge.get('status')))} {html.escape(str(judge.get('version', '')))}"
            f" · reviewed: {html.escape(str(manifest.get('review', {}).get('decision')))} · id "
            f'<code>{html.escape(manifest["id"])}</code></p><p class="label">the benchmark</p>'
            f'<div class="views">{images}</div>{solution_row}'
            f"<table><tr><th>parameter</th><th>declared</th><th>drawn</th></tr>{params}</table>"
            f'<p class="prompt">“{html.escape(str(provenance.get("prompt", "")))}” — '
            f"{html.escape(str(provenance.get('model', '')))}</p></section>"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    plots = "".join(
        f'<img src="quality/{name}.png" alt="{name}">'
        for name in QUALITY_PLOTS
        if (out.parent / "quality" / f"{name}.png").is_file()
    )
    quality = f'<section class="quality"><h2>Dataset quality</h2>{plots}</section>' if plots else ""
    page = (
        '<!doctype html><html><head><meta charset="utf-8"><title>benchgen dataset</title><style>'
        "body{font-family:sans-serif;margin:2em;background:#fafafa}.card{background:#fff;padding:1em;margin:1em 0;"
        "border:1px solid #ddd}.views img{width:24%;margin-right:1%}.meta{color:#555}td,th{padding:2px 8px;"
        "text-align:left}.prompt{font-style:italic}.label{margin:.3em 0;color:#555;font-size:90%}"
        ".quality img{max-width:32%;margin-right:1%;vertical-align:top}</style></head><body>"
        f"<h1>benchgen dataset</h1><p>{len(manifests)} promoted benchmark(s), generated "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}.</p>{quality}{''.join(cards)}</body></html>\n"
    )
    write_file_atomically(out, page.encode())


@dg.asset(
    deps=["benchmark_dataset", "dataset_quality"],
    code_version=code_version(__name__, "models"),
    group_name="dataset",
    kinds={"html"},
    automation_condition=AFTER_PROMOTIONS,
    description="A static HTML page of every promoted benchmark: renders with and without the reference "
    "solution, tier, difficulty, parameters, checks; the dataset quality plots on top.",
)
def dataset_gallery(artifacts: ArtifactStoreResource) -> dg.MaterializeResult:
    manifests = read_manifests(dataset_dir())
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
