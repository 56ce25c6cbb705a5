"""Tables in the Dagster UI: `MetadataValue.table`, its columns named and typed by a `TableSchema`."""

import math
from collections.abc import Iterable, Mapping, Sequence

import dagster as dg

Cell = str | int | float | bool | None


def cell(value: object) -> Cell:
    """A value a TableRecord holds: numpy and pandas scalars as Python ones, NaN as None, anything else as text."""
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, str | int | float | bool):
        value = item()  # a numpy scalar
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def table(columns: Sequence[dg.TableColumn], rows: Iterable[Mapping[str, object]]) -> dg.TableMetadataValue:
    """A table of `rows` under `columns` (a row's missing cells are empty); an empty one still shows its columns."""
    names = [column.name for column in columns]
    return dg.MetadataValue.table(
        records=[dg.TableRecord({name: cell(row.get(name)) for name in names}) for row in rows],
        schema=dg.TableSchema(columns=list(columns)),
    )
