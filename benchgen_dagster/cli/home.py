"""BENCHGEN_HOME and the services, as the commands need them, or one line saying why they can't be used."""

import os
from pathlib import Path

from benchgen_dagster.cli.output import EXIT_USAGE, fail, fail_usage, one_line


def usable_home() -> Path:
    """BENCHGEN_HOME, created if missing, or one line saying why it cannot be used."""
    from benchgen_dagster.paths import benchgen_home

    try:
        return benchgen_home()
    except OSError as error:
        fail_usage(f"cannot use BENCHGEN_HOME ({error.filename}): {error.strerror}")


def existing_home() -> Path:
    """BENCHGEN_HOME for commands that read what earlier runs made: it must already exist."""
    configured = os.environ.get("BENCHGEN_HOME")
    if configured and not Path(configured).expanduser().is_dir():
        fail_usage(f"BENCHGEN_HOME {configured} does not exist: nothing has been generated there")
    return usable_home()


def require_services() -> None:
    """The configured database, bucket, Dagster instance and sandbox can be used, or the command fails."""
    from benchgen_dagster.runner import check_services
    from benchgen_dagster.worker.sandbox import SandboxUnavailable

    try:
        check_services()
    except SandboxUnavailable as error:
        fail(str(error), EXIT_USAGE)
    except ConnectionError as error:
        fail(str(error))
    except Exception as error:  # the Dagster instance's storage (PostgreSQL under DAGSTER_HOME)
        fail(f"the Dagster instance cannot be used: {one_line(error)}")
