"""Every threshold the worker applies, named, in one place, with the defaults the design fixes.

A curator changes them per run (`benchgen check --settings FILE.yaml`) or, later, through Dagster
config; the report records the values it was checked with.
"""

import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

# How many candidates run at once on this machine: set it where runs are queued side by side (the run
# queue's max_concurrent_runs), so their judges share the cores instead of each taking them all.
CANDIDATES_AT_ONCE = "BENCHGEN_CANDIDATES_AT_ONCE"


class GeometrySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_solid_volume_mm3: float = 10.0
    # How far two parts may overlap at spawn before it counts as interpenetration.
    spawn_penetration_tolerance_mm: float = 0.5
    # A solid whose convex hull is this much larger than itself is concave and gets decomposed.
    concavity_ratio: float = 1.02
    # Tessellation of the CAD solids into meshes.
    mesh_tolerance_mm: float = 0.2
    mesh_angular_tolerance_rad: float = 0.25
    # CoACD's concavity threshold: lower means more, tighter convex pieces.
    decomposition_threshold: float = 0.05


class RandomizationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Each declared range must reach at least ±40 % of the nominal value unless the author narrows it.
    min_relative_spread: float = 0.4
    # The values drawn across the checked seeds must cover this share of the declared range.
    min_range_coverage: float = 0.75
    min_distinct_variants: int = 5


class SimulationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duration_s: float = Field(default=2.0, ge=1.0)
    timestep_s: float = 0.002
    max_body_speed_m_s: float = 100.0
    max_penetration_mm: float = 5.0
    # Total energy may not rise above its start value by more than this (a passive scene cannot gain energy).
    max_energy_gain_j: float = 0.05
    max_energy_gain_ratio: float = 0.10
    # "Settled": every body slower than this over the last `settle_window_s` of the run.
    settle_speed_m_s: float = 0.05
    settle_window_s: float = 0.2


class SolvabilitySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The reference solution must have the moved object in the goal zone when this much time is up.
    time_limit_s: float = Field(default=4.0, gt=0, le=60)
    # How far a solution's part may reach past the build zone's faces (collision pieces' boxes).
    zone_tolerance_mm: float = Field(default=1.0, ge=0)
    # "At rest" in the goal: the moved object slower than this over the last `rest_window_s` of the run.
    rest_speed_m_s: float = Field(default=0.05, gt=0)
    rest_window_s: float = Field(default=0.2, gt=0, le=10)


class RenderSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    width: int = 640
    height: int = 480
    azimuths: int = 8
    elevations_deg: tuple[float, ...] = (-15.0, -35.0, -60.0)
    video_fps: int = 30


def _unsandboxed_allowed() -> bool:
    return os.environ.get("BENCHGEN_ALLOW_UNSANDBOXED", "") == "1"


class SandboxLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The builder's own start-up (imports) and wrap-up; a run's wall-clock limit is this plus
    # seed_timeout_s for every seed it must build.
    startup_timeout_s: float = Field(default=120.0, gt=0, le=3600)
    # CPU seconds one seed's build may use: a generous multiple of a real seed's 0.1–0.6 s. The first
    # seed over it ends the check (the rest are "not run"), so a hung script costs seconds, not minutes.
    seed_cpu_seconds: int = Field(default=10, gt=0, le=3600)
    # Wall-clock backstop per seed, for code that sleeps instead of spinning (CPU limits cannot see that);
    # generous, because wall clocks misfire on a loaded machine.
    seed_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    cpu_seconds: int = Field(default=900, gt=0, le=86_400)
    # For the whole run (a memory cgroup where available) and for each process (RLIMIT_AS).
    memory_mb: int = Field(default=4096, ge=512, le=262_144)
    file_size_mb: int = Field(default=256, ge=1, le=65_536)
    max_processes: int = Field(default=64, ge=8, le=4096)
    # Disk quotas, enforced by the filesystem: the writable workspace and /tmp are size-limited tmpfs.
    workspace_mb: int = Field(default=512, ge=8, le=65_536)
    tmp_mb: int = Field(default=256, ge=8, le=65_536)
    # What a run may print that the host keeps (stdout and stderr, each): the rest is read and dropped.
    log_mb: int = Field(default=4, ge=1, le=1024)
    # Use pids and memory cgroups where the host lets us create them (off: rlimits and the uid only).
    cgroups: bool = True
    # Build in the warm builder (imports paid once a process; a mount namespace, tmpfs and uid per job)
    # where it can run (root and a working bubblewrap); off, every build starts a cold sandbox.
    warm_builder: bool = True
    # Judge in the warm judge (its imports paid once a process; the same isolation per job) where it can run.
    warm_judge: bool = True
    # Seeds the judge works on at once, each in a process of its own. 0: this machine's cores divided
    # by the candidates that run at once (BENCHGEN_CANDIDATES_AT_ONCE, 1 when unset), so the two levels
    # together never ask for more processes than there are cores.
    judge_workers: int = Field(default=0, ge=0, le=256)
    # On a host that runs us as root, the code runs as a uid drawn from this range, one per run.
    uid_range: tuple[int, int] = (40_000, 60_000)
    # The weaker mode, for a machine without a working bubblewrap: untrusted code runs with rlimits only.
    allow_unsandboxed: bool = Field(default_factory=_unsandboxed_allowed)

    def wall_timeout_s(self, seeds: int) -> float:
        return self.startup_timeout_s + self.seed_timeout_s * max(seeds, 1)

    def judge_processes(self) -> int:
        """Seed processes for one judge: the setting, or the cores shared among the candidates; never more
        than an eighth of the process cap (each seed process has threads of its own)."""
        wanted = self.judge_workers
        if not wanted:
            try:
                at_once = max(1, int(os.environ.get(CANDIDATES_AT_ONCE, "1")))
            except ValueError:
                at_once = 1
            wanted = len(os.sched_getaffinity(0)) // at_once
        return max(1, min(wanted, self.max_processes // 8))


class RetentionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # BENCHGEN_HOME/runs keeps the newest this many sandbox runs (logs, builder and judge files) ...
    runs_kept: int = Field(default=200, ge=0)
    # ... and none older than this; a run in use is never removed (`benchgen gc` prunes on demand).
    runs_max_age_days: float = Field(default=7.0, ge=0)


class CheckSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    geometry: GeometrySettings = GeometrySettings()
    randomization: RandomizationSettings = RandomizationSettings()
    simulation: SimulationSettings = SimulationSettings()
    solvability: SolvabilitySettings = SolvabilitySettings()
    render: RenderSettings = RenderSettings()
    sandbox: SandboxLimits = SandboxLimits()
    retention: RetentionSettings = RetentionSettings()
    # Seeds re-built in a fresh process to prove same seed → same bytes.
    determinism_reruns: int = 2

    @classmethod
    def from_yaml(cls, path: Path) -> "CheckSettings":
        data = yaml.safe_load(path.read_text()) or {}
        return cls.model_validate(data)
