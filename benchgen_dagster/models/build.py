"""What the builder writes for one seed: the scene as data, and the name of each solid's mesh file.

The builder runs untrusted code, so this is the judge's untrusted input: it is validated with these
models, and every claim in it can only make a verdict worse (a solid the builder says is not valid
CAD fails; one it says is valid is still judged on its mesh).
"""

from pydantic import BaseModel, ConfigDict, Field

from benchgen_dagster.models.scene import PartSpec, SceneSpec

BUILD_RECORD = "build.json"
BUILD_ERROR = "error.json"
BUILD_STATUS = "status.json"
BUILD_STOPPED = "stopped.json"
MESH_FOLDER = "meshes"
# The names the builder gives its files; the judge reads nothing else.
MESH_NAME = r"(scene|solution)-[A-Za-z_][A-Za-z0-9_\-]{0,63}-\d{1,4}\.ply"


class BuiltSolid(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mesh: str = Field(pattern=rf"^{MESH_NAME}$")
    # build123d's own validity verdict on the BREP: it can only fail the solid, never excuse its mesh.
    cad_valid: bool = True


class BuiltPart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spec: PartSpec
    solids: list[BuiltSolid] = Field(min_length=1, max_length=256)


class BuildRecord(BaseModel):
    """`seeds/<seed>/build.json`: what build(seed, scale) and solution(seed, scale) made."""

    model_config = ConfigDict(extra="forbid")

    seed: int
    # The scene without its parts (they are in `parts`, with their meshes).
    scene: SceneSpec
    parts: list[BuiltPart] = Field(max_length=512)
    # None: the script defines no solution(); an error says what solution() did wrong.
    solution: list[BuiltPart] | None = None
    solution_error: str | None = Field(default=None, max_length=4000)


class BuildFailure(BaseModel):
    """`seeds/<seed>/error.json`, or the runner's `status.json`: why the seed has no build record."""

    model_config = ConfigDict(extra="ignore")

    status: str = Field(default="raised", max_length=40)
    message: str = Field(default="", max_length=4000)
