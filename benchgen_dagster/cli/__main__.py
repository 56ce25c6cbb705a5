"""`python -m benchgen_dagster.cli`: the `benchgen` command."""

from benchgen_dagster.cli import main

main()
