"""The agents' command: `agent run`, one generation session in a workspace, without Dagster."""

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from benchgen_dagster.cli.home import usable_home
from benchgen_dagster.cli.output import EXIT_FAILED, EXIT_OK, console, fail, fail_usage, one_line


def agent_run(
    prompt: Annotated[str, typer.Argument(help="What benchmark to make, in plain words.")],
    workspace: Annotated[Path, typer.Option("--workspace", help="Folder the session works in.")],
    model: Annotated[
        str | None, typer.Option("--model", help="'offline' or provider:model (default: $BENCHGEN_MODEL or offline).")
    ] = None,
    plan: Annotated[Path | None, typer.Option("--plan", help="Use this plan.md instead of the planner's.")] = None,
    feedback: Annotated[str, typer.Option("--feedback", help="Guidance for the coder and the reviewer.")] = "",
    skills: Annotated[
        Path | None, typer.Option("--skills", help="Folder of <name>/SKILL.md offered to the coder.")
    ] = None,
    max_rounds: Annotated[int, typer.Option("--max-rounds", min=1, max=10)] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print the session result as JSON.")] = False,
) -> None:
    """Run one generation session: planner → coder ⇄ worker → reviewer."""
    from benchgen_dagster.agent.configuration import SessionConfig, default_model
    from benchgen_dagster.agent.models import ModelConfigError, chat_model
    from benchgen_dagster.agent.prices import format_cost
    from benchgen_dagster.agent.session import SessionInputError, run_session, validate_inputs
    from benchgen_dagster.agent.state import ROLES
    from benchgen_dagster.runner import tracing_settings

    if workspace.exists() and not workspace.is_dir():
        fail_usage(f"--workspace {workspace} exists and is not a folder")
    if plan is not None and not plan.is_file():
        fail_usage(f"plan file not found: {plan}")
    config = SessionConfig(
        prompt=prompt,
        workspace=workspace,
        model=model or default_model(),
        plan_file=plan,
        feedback=feedback,
        max_rounds=max_rounds,
        skills_dir=skills,
        tracing=tracing_settings(),
    )
    try:
        validate_inputs(config)
        models = {role: chat_model(config.model, role) for role in ROLES}
    except (SessionInputError, ModelConfigError) as error:
        fail_usage(str(error))
    try:
        result = run_session(config, models=models, home=usable_home())
    except Exception as error:  # the session's own failures are results; this is the machinery failing
        fail(f"the session failed: {one_line(error)}")
    if as_json:
        sys.stdout.write(result.model_dump_json() + "\n")
    else:
        colour = "green" if result.decision == "approved" else "red"
        tokens = ", ".join(
            f"{role} {u.get('input_tokens', 0)}/{u.get('output_tokens', 0)} in {u.get('calls', 0)} calls"
            for role, u in result.usage.items()
        )
        console.print(
            f"[bold {colour}]{result.decision}[/] after {result.rounds} round(s) · checks "
            f"{'passed' if result.checks_passed else 'failed: ' + ', '.join(result.failed_checks)} · "
            f"tokens in/out {escape(tokens) or '-'} · est. {format_cost(result.estimated_cost_usd)} · "
            f"{result.wall_s:.0f} s (model {result.model_s:.0f} s, sandbox {result.sandbox_s:.0f} s)",
            highlight=False,
            soft_wrap=True,
        )
        if result.reason:
            console.print(escape(result.reason), highlight=False, soft_wrap=True)
        console.print(f"workspace: {result.workspace}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_OK if result.decision == "approved" else EXIT_FAILED)
