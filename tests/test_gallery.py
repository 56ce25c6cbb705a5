"""The gallery page: a card per benchmark from its manifest and renders, every value escaped."""

from pathlib import Path

import yaml

from benchgen_dagster.defs.gallery import render_gallery
from benchgen_dagster.models.manifest import MANIFEST, read_manifests


def _benchmark(dataset: Path, bid: str, fields: dict[str, object], solution_views: int = 0) -> None:
    renders = dataset / bid / "renders"
    renders.mkdir(parents=True)
    for azimuth in range(0, 360, 45):  # 8 views at 35°, and one from another elevation the page skips
        (renders / f"view_az{azimuth:03d}_el35.png").write_bytes(b"png")
    (renders / "view_az000_el10.png").write_bytes(b"png")
    if solution_views:
        (renders / "solution").mkdir()
        for azimuth in range(0, 45 * solution_views, 45):
            (renders / "solution" / f"view_az{azimuth:03d}_el35.png").write_bytes(b"png")
    (dataset / bid / MANIFEST).write_text(yaml.safe_dump({"id": bid, **fields}, sort_keys=False))


def test_the_page_shows_each_benchmark_and_escapes_what_it_was_given(tmp_path: Path) -> None:
    dataset, out = tmp_path / "dataset", tmp_path / "gallery" / "index.html"
    _benchmark(
        dataset,
        "push-box-1",
        {
            "title": "<script>alert(1)</script> & a box",
            "tier": 2,
            "family": "push_box",
            "parameters": {"wall_h": {"nominal": 120.0, "low": 80.0, "high": 160.0, "min": 84.5, "max": 151.0}},
            "seeds_checked": [0, 1, 2],
            "judge": {"status": "judged", "version": "judge-0123456789ab", "seeds": [0, 1, 2]},
            "solvability": {"status": "proven"},
            "difficulty": {"score": 41.5, "features": {}, "seeds": 3},
            "review": {"decision": "approved"},
            "provenance": {"prompt": 'a "box" to <push>', "model": "offline"},
        },
        solution_views=2,
    )
    _benchmark(dataset, "legacy-2", {"seeds_checked": [0]})  # promoted before the judge and solvability
    (out.parent / "quality").mkdir(parents=True)
    (out.parent / "quality" / "difficulty.png").write_bytes(b"png")

    render_gallery(read_manifests(dataset), out)
    page = out.read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; a box" in page
    assert "a &#34;box&#34; to &lt;push&gt;" in page and "— offline" in page
    assert "2 promoted benchmark(s)" in page and '<img src="quality/difficulty.png"' in page
    assert "quality/counts.png" not in page  # only the plots that exist
    legacy, pushed = page.split('<section class="card">')[1:]  # in the order of their ids
    assert "tier 2 · push_box · 3 seeds checked" in pushed and "solvability: proven · difficulty 41.5" in pushed
    assert "judge: judged judge-0123456789ab" in pushed and "<td>wall_h</td><td>80–160</td><td>84.5–151</td>" in pushed
    assert pushed.count('src="../dataset/push-box-1/renders/view_') == 4 and "el10" not in pushed
    assert pushed.count('src="../dataset/push-box-1/renders/solution/view_') == 2
    assert "with the reference solution" in pushed and "with the reference solution" not in legacy
    assert "<h2>legacy-2</h2>" in legacy and "judge: never judged by the trusted judge" in legacy
    assert "solvability: unproven · difficulty –" in legacy
