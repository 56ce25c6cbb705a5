"""Headless rendering: 24 views with the zones drawn, and a video of the run."""

import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import imageio_ffmpeg
import numpy as np
import pytest

from benchgen_dagster.models.settings import CheckSettings
from tests.conftest import SCRIPTS

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("require_bubblewrap")]


def test_render_writes_24_views_and_a_video(tmp_path: Path) -> None:
    out = tmp_path / "renders"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchgen_dagster.cli",
            "render",
            str(SCRIPTS / "good_box.py"),
            "--seed",
            "2",
            "--out",
            str(out),
            "--size",
            "160x120",
            "--video",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    views = sorted(out.glob("view_*.png"))
    assert len(views) == 24
    assert {p.name for p in views} >= {"view_az000_el15.png", "view_az315_el60.png"}
    top = iio.imread(out / "view_az000_el60.png")
    assert top.shape == (120, 160, 3)
    # The goal zone is drawn translucent green: some pixels are clearly greener than they are red or blue.
    greenish = (top[..., 1].astype(int) - np.maximum(top[..., 0], top[..., 2]).astype(int)) > 30
    assert greenish.sum() > 20
    # Views from different azimuths differ.
    assert not np.array_equal(iio.imread(views[0]), iio.imread(views[3]))
    # The video covers the simulated run: duration × fps frames of the chosen size.
    frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(out / "video.mp4"))
    settings = CheckSettings()
    assert frames == round(settings.simulation.duration_s * settings.render.video_fps)
    assert seconds == pytest.approx(settings.simulation.duration_s, abs=0.1)
