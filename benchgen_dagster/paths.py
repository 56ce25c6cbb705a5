"""Where benchgen keeps its state: one environment variable, read in one place."""

import os
from pathlib import Path

DEFAULT_HOME = ".benchgen"
MANIFEST = "benchmark.yaml"  # in each benchmark's folder in the dataset


def benchgen_home() -> Path:
    """`BENCHGEN_HOME`, or `./.benchgen`; created on first use."""
    home = Path(os.environ.get("BENCHGEN_HOME") or DEFAULT_HOME).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home


def cache_dir(home: Path) -> Path:
    """Where the judge's decompositions and verdicts are kept: `BENCHGEN_CACHE_DIR`, or `home/cache`.
    Keyed by content, so several homes (datasets, test sessions) may share one."""
    configured = os.environ.get("BENCHGEN_CACHE_DIR")
    return Path(configured).expanduser().resolve() if configured else home / "cache"


def dataset_dir() -> Path:
    """The promoted benchmarks, one folder each (`<benchmark_id>/`), and the index; created on first use."""
    folder = benchgen_home() / "dataset"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def index_path() -> Path:
    """The dataset's index (benchmark_dataset)."""
    return dataset_dir() / "index.parquet"


def gallery_path() -> Path:
    """The gallery page (dataset_gallery)."""
    return benchgen_home() / "gallery" / "index.html"


def leaderboard_path() -> Path:
    """The solvers' leaderboard (solver_leaderboard), in a folder beside the gallery's."""
    return benchgen_home() / "leaderboard" / "index.html"


def quality_dir() -> Path:
    """Where dataset_quality leaves its plots (shown on the gallery page) and quality.json."""
    return benchgen_home() / "gallery" / "quality"
