"""The Dagster layer: one module per pipeline stage, in the order the data flows (requests → planning →
cad → simulation → review → dataset), over the worker and the agent graph."""
