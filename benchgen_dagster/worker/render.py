"""Render a compiled scene headless: a ring of views with the zones drawn, and a video of the run.

MuJoCo renders through EGL (Mesa's llvmpipe works with no GPU) or OSMesa; `MUJOCO_GL` picks one
and must be set before mujoco is imported (the sandbox sets it). Collision pieces (geom group 3)
are hidden; zones are translucent sites: goal green, forbid red, build grey.
"""

from pathlib import Path

import mujoco
import numpy as np

from benchgen_dagster.models.scene import SceneSpec
from benchgen_dagster.models.settings import RenderSettings, SimulationSettings
from benchgen_dagster.models.units import mm_to_m
from benchgen_dagster.worker.mjcf import DriveSchedule, start_data


def _camera(spec: SceneSpec, azimuth: float, elevation: float) -> mujoco.MjvCamera:
    lo, hi = np.array(spec.workspace.lo), np.array(spec.workspace.hi)
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_FREE
    center = mm_to_m(1.0) * (lo + hi) / 2
    center[2] = mm_to_m(1.0) * (lo[2] + (hi[2] - lo[2]) * 0.3)
    camera.lookat[:] = center
    camera.distance = float(mm_to_m(1.0) * np.linalg.norm(hi - lo) * 1.1)
    camera.azimuth, camera.elevation = azimuth, elevation
    return camera


def _renderer(model: mujoco.MjModel, width: int, height: int) -> mujoco.Renderer:
    model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)
    model.vis.global_.offheight = max(model.vis.global_.offheight, height)
    return mujoco.Renderer(model, height=height, width=width)


def view_name(azimuth: float, elevation: float) -> str:
    return f"view_az{round(azimuth):03d}_el{round(abs(elevation)):02d}.png"


def render_views(
    model: mujoco.MjModel, spec: SceneSpec, out: Path, width: int, height: int, settings: RenderSettings
) -> list[Path]:
    """Azimuths every 360/n degrees × the configured elevations, at the spawn state."""
    import imageio.v3 as iio

    out.mkdir(parents=True, exist_ok=True)
    data = start_data(model)
    written = []
    renderer = _renderer(model, width, height)
    try:
        for elevation in settings.elevations_deg:
            for step in range(settings.azimuths):
                azimuth = step * 360.0 / settings.azimuths
                renderer.update_scene(data, camera=_camera(spec, azimuth, elevation))
                path = out / view_name(azimuth, elevation)
                iio.imwrite(path, renderer.render())
                written.append(path)
    finally:
        renderer.close()
    return written


def render_video(
    model: mujoco.MjModel,
    spec: SceneSpec,
    path: Path,
    width: int,
    height: int,
    render: RenderSettings,
    simulation: SimulationSettings,
) -> Path:
    """An MP4 (H.264 through imageio-ffmpeg's bundled ffmpeg) of the scene left alone for the sim duration."""
    import imageio.v2 as imageio

    model.opt.timestep = simulation.timestep_s
    data = start_data(model)
    drives = DriveSchedule.of(model)
    steps_per_frame = max(1, round(1.0 / (render.video_fps * simulation.timestep_s)))
    frames = max(1, round(simulation.duration_s * render.video_fps))
    # H.264 wants even frame sizes.
    width, height = width - width % 2, height - height % 2
    renderer = _renderer(model, width, height)
    camera = _camera(spec, 45.0, -30.0)
    try:
        with imageio.get_writer(
            path,
            fps=render.video_fps,
            codec="libx264",
            quality=7,
            macro_block_size=1,
            ffmpeg_log_level="error",
        ) as writer:
            for _ in range(frames):
                renderer.update_scene(data, camera=camera)
                writer.append_data(renderer.render())  # type: ignore[attr-defined]
                drives.apply(data)
                mujoco.mj_step(model, data, nstep=steps_per_frame)
    finally:
        renderer.close()
    return path


def render_scene(
    model: mujoco.MjModel,
    spec: SceneSpec,
    out: Path,
    width: int,
    height: int,
    render: RenderSettings,
    simulation: SimulationSettings,
    video: bool = False,
) -> list[Path]:
    written = render_views(model, spec, out, width, height, render)
    if video:
        written.append(render_video(model, spec, out / "video.mp4", width, height, render, simulation))
    return written
