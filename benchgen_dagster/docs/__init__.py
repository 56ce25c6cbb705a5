"""Documentation shipped with the package: what the agents read in their workspace, as users read it."""
