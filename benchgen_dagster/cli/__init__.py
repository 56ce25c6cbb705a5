"""`benchgen`: check, render and browse benchmark scripts from the command line.

Exit codes: 0 all good, 1 a check failed, 2 the command was used wrongly (missing file, bad option).
Bad input is one line on stderr, never a traceback. Heavy libraries are imported inside commands,
so `benchgen --help` and `benchgen library list` start fast, and `benchgen list` and `show` import
neither pandas nor the Dagster Definitions (tests/test_cli.py holds them to it).

This module puts the app together; each command group lives in a module of its own: `worker` (check,
render, library), `agent`, `pipeline` (generate, list, show, promote, reject, export, audit, gc),
`evaluation` (evaluate), `skills` and `deploy` (celery-worker), all printing through `output` and
finding BENCHGEN_HOME and the services through `home`.
"""

import atexit
import os
import sys
import threading
from contextlib import suppress
from typing import NoReturn

import typer

from benchgen_dagster.cli import agent, deploy, evaluation, pipeline, skills, worker

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="benchgen: generate and check mechanical-engineering benchmarks.",
)
library_app = typer.Typer(no_args_is_help=True, help="The built-in benchmark families.")
app.add_typer(library_app, name="library")
agent_app = typer.Typer(no_args_is_help=True, help="The agents: planner, coder and reviewer.")
app.add_typer(agent_app, name="agent")
skills_app = typer.Typer(no_args_is_help=True, help="The skills the learner writes for the coder, and their versions.")
app.add_typer(skills_app, name="skills")

# In this order in `benchgen --help` (and each group's).
app.command()(worker.check)
app.command()(worker.render)
agent_app.command("run")(agent.agent_run)
library_app.command("list")(worker.library_list)
library_app.command("check")(worker.library_check)
library_app.command("export")(worker.library_export)
app.command()(pipeline.generate)
app.command("list")(pipeline.list_candidates)
app.command()(pipeline.show)
app.command()(pipeline.promote)
app.command()(pipeline.reject)
app.command()(pipeline.export)
app.command()(pipeline.audit)
app.command()(evaluation.evaluate)
app.command()(pipeline.gc)
app.command("celery-worker")(deploy.celery_worker)
skills_app.command("list")(skills.skills_list)
skills_app.command("show")(skills.skills_show)
skills_app.command("diff")(skills.skills_diff)
skills_app.command("learn")(skills.skills_learn)


def main() -> None:
    """The `benchgen` command. It leaves without tearing its interpreter down: the thousands of modules a
    command imports (Dagster, LangChain, pandas) took 1.3 s of every command to unload one by one. What
    leaving must still do is done: other threads are joined, the atexit handlers run (tracing flushes its
    spans there), and the streams are flushed."""
    try:
        app()
    except SystemExit as leaving:
        code = leaving.code
    else:
        code = 0
    if isinstance(code, str):  # a message, as sys.exit(message) prints it
        print(code, file=sys.stderr)
    _leave(code if isinstance(code, int) else 0 if code is None else 1)


def _leave(code: int) -> NoReturn:
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):
            stream.flush()
    os._exit(code)
