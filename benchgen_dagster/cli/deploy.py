"""`benchgen celery-worker`: serve a production deployment's steps on this host (docs/deploy.md)."""

import os
import socket
import sys
from typing import Annotated

import typer

from benchgen_dagster.cli.output import fail_usage

# dagster-celery's queue: the one its executor sends every step to.
STEP_QUEUE = "dagster"


def celery_worker(
    name: Annotated[str, typer.Option("--name", help="This worker's name (the host's, by default).")] = "",
    concurrency: Annotated[
        int,
        typer.Option("--concurrency", min=1, max=64, help="Steps at once (each runs the judge on cores of its own)."),
    ] = 1,
    loglevel: Annotated[str, typer.Option("--loglevel", help="Celery's log level.")] = "INFO",
) -> None:
    """Run a dagster-celery worker for the production deployment: it takes steps of any run from the
    broker, one at a time per --concurrency, and acknowledges each when it ends."""
    from benchgen_dagster.definitions import DEPLOYMENT_VARIABLE, DeploymentError, deployment

    try:
        chosen = deployment()
    except DeploymentError as error:
        fail_usage(str(error))
    if chosen != "production":
        fail_usage(
            f"celery-worker serves a production deployment: set {DEPLOYMENT_VARIABLE}=production (docs/deploy.md)"
        )
    command = [sys.executable, "-m", "celery", "-A", "benchgen_dagster.celery_app", "worker"]
    command += ["-Q", STEP_QUEUE, "-n", f"{name or socket.gethostname()}@%h", "-c", str(concurrency)]
    command += ["--prefetch-multiplier=1", "--without-gossip", "--without-mingle", "-l", loglevel]
    sys.stdout.flush()
    os.execv(sys.executable, command)
