"""Materials a benchmark part can be made of: density, friction and a default colour."""

from pydantic import BaseModel, ConfigDict, Field


class Material(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    density_g_cm3: float = Field(gt=0)
    friction: float = Field(ge=0, le=5)
    rgba: tuple[float, float, float, float] = (0.6, 0.6, 0.6, 1.0)


MATERIALS: dict[str, Material] = {
    m.name: m
    for m in (
        Material(name="steel", density_g_cm3=7.85, friction=0.5, rgba=(0.55, 0.57, 0.6, 1.0)),
        Material(name="aluminium", density_g_cm3=2.70, friction=0.45, rgba=(0.75, 0.77, 0.8, 1.0)),
        Material(name="wood", density_g_cm3=0.70, friction=0.6, rgba=(0.65, 0.48, 0.3, 1.0)),
        Material(name="abs", density_g_cm3=1.05, friction=0.4, rgba=(0.2, 0.45, 0.8, 1.0)),
        Material(name="rubber", density_g_cm3=1.20, friction=1.0, rgba=(0.15, 0.15, 0.15, 1.0)),
        Material(name="concrete", density_g_cm3=2.40, friction=0.7, rgba=(0.7, 0.7, 0.68, 1.0)),
    )
}


def material_named(name: str) -> Material:
    try:
        return MATERIALS[name]
    except KeyError:
        known = ", ".join(sorted(MATERIALS))
        raise ValueError(f"unknown material {name!r}; known materials: {known}") from None
