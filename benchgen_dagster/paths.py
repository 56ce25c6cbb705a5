"""Where benchgen keeps its state: one environment variable, read in one place."""

import os
from pathlib import Path

DEFAULT_HOME = ".benchgen"


def benchgen_home() -> Path:
    """`BENCHGEN_HOME`, or `./.benchgen`; created on first use."""
    home = Path(os.environ.get("BENCHGEN_HOME") or DEFAULT_HOME).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home
