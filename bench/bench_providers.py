"""One real-client session, measured: `benchgen agent run` through langchain-openai (or -anthropic) against
the scripted provider server on loopback playing a competent model (tests/competent_model.py).

Run with `make bench-providers`. Prints, per role, the model calls (failed tries included), the tokens and
the cost the price table gives, and the session's wall time split into model time (waiting for the
server) and sandbox time (the judge's checks and renders, and `execute`); the rest is the graph, the
agents' own work and start-up. The scripted server answers in milliseconds, so model time here is the
client's and the wire's share, not a real model's thinking time.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tests.competent_model import COMPETENT
from tests.provider_servers import serve

PROMPT = "push a box along the floor into a goal zone"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", choices=("openai", "anthropic"), default="openai")
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-providers-") as folder, serve(COMPETENT) as server:
        env = {**os.environ, **server.env(args.provider), "BENCHGEN_HOME": str(Path(folder) / "home")}
        command = [sys.executable, "-m", "benchgen_dagster.cli", "agent", "run", PROMPT, "--json"]
        command += ["--workspace", str(Path(folder) / "ws")]
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=900)
        if not done.stdout.strip():
            sys.exit(f"the session printed nothing: {done.stderr[-2000:]}")
        session = json.loads(done.stdout)
        requests = len(server.requests)
    table = Table(title=f"one {server.env(args.provider)['BENCHGEN_MODEL']} session: {session['decision']}")
    for column in ("role", "model calls", "failed", "tokens in", "tokens out", "cost", "model s"):
        table.add_column(column, justify="left" if column == "role" else "right")
    for role, usage in session["usage"].items():
        cost = "unknown" if usage["cost_usd"] is None else f"${usage['cost_usd']:.5f}"
        table.add_row(
            role, str(usage["calls"]), str(usage["failed_calls"]), str(usage["input_tokens"]),
            str(usage["output_tokens"]), cost, f"{usage['model_s']:.2f}",
        )  # fmt: skip
    console = Console()
    console.print(table)
    wall, model, sandbox = session["wall_s"], session["model_s"], session["sandbox_s"]
    console.print(
        f"wall {wall:.1f} s = model {model:.1f} s ({model / wall:.0%}) + sandbox {sandbox:.1f} s "
        f"({sandbox / wall:.0%}) + the rest {wall - model - sandbox:.1f} s; {requests} requests reached the server; "
        f"estimated cost {'unknown' if session['estimated_cost_usd'] is None else session['estimated_cost_usd']}"
    )


if __name__ == "__main__":
    main()
