"""What a model call cost, from a maintained price table (pydantic's `genai-prices`), never a guess.

The offline policy is free. A model the table does not know costs `None`, shown as "unknown": a $0
that was really a gap in the table would mislead whoever budgets a batch.
"""

from typing import Any

from benchgen_dagster.agent.configuration import OFFLINE_MODEL


def call_cost(model: str, message: Any) -> float | None:
    """The USD cost of one model reply (its usage metadata), or None when the model's price is unknown."""
    if model == OFFLINE_MODEL:
        return 0.0
    from genai_prices import Usage, calc_price

    provider, _, name = model.partition(":")
    # The name the server answered with is the one it billed (an alias resolves to a dated model).
    metadata = getattr(message, "response_metadata", None) or {}
    answered = metadata.get("model_name") or metadata.get("model")
    usage_metadata = getattr(message, "usage_metadata", None) or {}
    details = usage_metadata.get("input_token_details") or {}
    usage = Usage(
        input_tokens=usage_metadata.get("input_tokens", 0),
        output_tokens=usage_metadata.get("output_tokens", 0),
        cache_read_tokens=details.get("cache_read") or None,
        cache_write_tokens=details.get("cache_creation") or None,
    )
    for ref in dict.fromkeys(n for n in (answered, name) if n):
        try:
            return float(calc_price(usage, model_ref=str(ref), provider_id=provider or None).total_price)
        except LookupError:
            continue
    return None


def format_cost(cost: float | None) -> str:
    return "unknown" if cost is None else f"${cost:.4f}"
