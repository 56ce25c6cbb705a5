"""The offline policy: a deterministic chat model that plays planner, coder, reviewer and learner.

It stands behind the same `BaseChatModel` interface a real provider does, and emits the same tool
calls a real model would (write_todos, write_file, read_file, execute, check_script, ...), so the
graph, the tools and the sandbox run unchanged with no network. What it knows is the built-in
library: it reads the request, picks and parameterizes a family, and judges by the worker's reports
and the renders. It is a real, documented mode (docs/agents.md), not a test double: it cannot invent
geometry the library does not have, and says so by refusing. Only model selection (`agent/models.py`)
reaches it.

In the order a request travels through it:
- `vocabulary`, `reading`: the words and units a prompt is read with, and what it says (`read_request`);
- `profiles`: what each library family is about, as the planner scores and parameterizes it;
- `planning`: a library family and its nominal values for the request, or a refusal (`plan_request`);
- `scripts`: script.py, the chosen family's script with those nominal values;
- `planner`, `coder`, `reviewer`, `learner`: each role's next step (`messages` reads the conversation);
- `model`: `OfflinePolicyModel`, which plays a role's steps as a chat model.
"""
