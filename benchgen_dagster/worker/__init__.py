"""The worker: compile, validate, simulate and render benchmark scripts, untrusted code in a sandbox.

No Dagster and no LLM here: the worker runs on its own (`benchgen check`, `benchgen render`).
"""
