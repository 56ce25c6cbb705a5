"""Where benchgen keeps its state: one environment variable, read in one place."""

import os
from pathlib import Path

DEFAULT_HOME = ".benchgen"


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
