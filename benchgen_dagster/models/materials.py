"""Materials a benchmark part can be made of: density, friction, price and a default colour.

This is the one table a solution's weight and cost come from: weight is the CAD volume times the
density, cost is the weight times the price per kilogram, plus `ACTUATOR_UNIT_COST` for every
driven joint (a small gear motor with its controller).
"""

from pydantic import BaseModel, ConfigDict, Field


class Material(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    density_g_cm3: float = Field(gt=0)
    friction: float = Field(ge=0, le=5)
    # Currency units per kilogram of stock, roughly what a small production run pays.
    price_per_kg: float = Field(default=3.0, ge=0)
    rgba: tuple[float, float, float, float] = (0.6, 0.6, 0.6, 1.0)


MATERIALS: dict[str, Material] = {
    m.name: m
    for m in (
        Material(name="steel", density_g_cm3=7.85, friction=0.5, price_per_kg=1.2, rgba=(0.55, 0.57, 0.6, 1.0)),
        Material(name="aluminium", density_g_cm3=2.70, friction=0.45, price_per_kg=3.5, rgba=(0.75, 0.77, 0.8, 1.0)),
        Material(name="wood", density_g_cm3=0.70, friction=0.6, price_per_kg=1.5, rgba=(0.65, 0.48, 0.3, 1.0)),
        Material(name="abs", density_g_cm3=1.05, friction=0.4, price_per_kg=3.0, rgba=(0.2, 0.45, 0.8, 1.0)),
        Material(name="rubber", density_g_cm3=1.20, friction=1.0, price_per_kg=4.0, rgba=(0.15, 0.15, 0.15, 1.0)),
        Material(name="concrete", density_g_cm3=2.40, friction=0.7, price_per_kg=0.15, rgba=(0.7, 0.7, 0.68, 1.0)),
    )
}


def material_named(name: str) -> Material:
    try:
        return MATERIALS[name]
    except KeyError:
        known = ", ".join(sorted(MATERIALS))
        raise ValueError(f"unknown material {name!r}; known materials: {known}") from None


# A driven joint's motor and controller, per unit made.
ACTUATOR_UNIT_COST = 8.0


def unit_cost(mass_g: float, material: Material, driven: bool = False, volume_scale: float = 1.0) -> float:
    """What one part costs to make: its stock by weight, plus a motor when its joint is driven.

    In a scene built at scale s the motor is one for a machine s× as large, costing s³ (`volume_scale`)
    as much, like the stock: so the cost limit, which the judge scales by s³ too, means the same."""
    return mass_g / 1000.0 * material.price_per_kg + (ACTUATOR_UNIT_COST * volume_scale if driven else 0.0)
