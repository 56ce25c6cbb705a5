"""The agents: a LangGraph graph of deepagents roles (planner → coder ⇄ worker → reviewer).

No Dagster here: `run_session` runs one generation session on its own. The model behind every
role is any LangChain chat model (`provider:model`), or the offline policy (`offline`, the default).
"""
