"""Tables in the Dagster UI: typed columns, cells a TableRecord can hold, and an empty table that keeps its columns."""

import dagster as dg
import numpy as np

from benchgen_dagster.defs.audit import results_table
from benchgen_dagster.defs.metadata import table


def test_a_table_holds_python_values_and_names_its_columns_even_when_empty() -> None:
    columns = [dg.TableColumn("name"), dg.TableColumn("count", "int"), dg.TableColumn("share", "float")]
    shown = table(columns, [{"name": "a", "count": np.int64(3), "share": float("nan")}, {"name": "b"}])
    assert [r.data for r in shown.records] == [
        {"name": "a", "count": 3, "share": None},
        {"name": "b", "count": None, "share": None},
    ]
    assert type(shown.records[0].data["count"]) is int
    assert [(c.name, c.type) for c in shown.schema.columns] == [
        ("name", "string"),
        ("count", "int"),
        ("share", "float"),
    ]
    empty = table(columns, [])
    assert empty.records == [] and [c.name for c in empty.schema.columns] == ["name", "count", "share"]


def test_the_audit_results_say_pass_fail_and_quarantined() -> None:
    passed = {"benchmark_id": "a-1", "family": "f", "seeds": [1024, 1025], "passed": True, "solvable_seeds": 2}
    failed = {**passed, "benchmark_id": "b-2", "family": None, "passed": False, "solvable_seeds": 0}
    rows = [{**passed, "first_failure": ""}, {**failed, "first_failure": "x" * 200, "quarantined": "/q/b-2-1"}]
    shown = [r.data for r in results_table(rows).records]
    assert shown[0] == dict(benchmark="a-1", family="f", seeds=2, solvable="2/2", result="pass") | {"first failure": ""}
    assert shown[1]["result"] == "FAIL → quarantined" and shown[1]["family"] is None
    assert shown[1]["first failure"] == "x" * 120
    assert results_table([]).records == []
