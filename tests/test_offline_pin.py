"""What the offline policy writes is pinned: plan.md and script.py of every candidate of the `make run` batch, and
of a wider set that reaches every family, the pipeline's own variations, failed rounds and a skill, hash to the
digests recorded here.

A benchmark's id is made from its script's digest and its planned family, so a refactor of the offline policy or
of the library that changes one byte here changes benchmark ids. Re-recording a digest is a change in behaviour,
made on purpose and said so in the commit, never to get a refactor through.

The policy is driven as the graph drives it, without the graph or a sandbox: each role's chat model, as model
selection hands it out, gets the task its node writes and the tool results it asks for, until it answers.
"""

import functools
import hashlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from benchgen_dagster.agent.coder import coder_task
from benchgen_dagster.agent.configuration import OFFLINE_MODEL
from benchgen_dagster.agent.models import chat_model
from benchgen_dagster.agent.prompts import REQUEST_MARKER
from benchgen_dagster.defs.requests import read_batch_file
from benchgen_dagster.models.registry import BenchmarkRequest

MAKE_RUN = Path(__file__).parent.parent / "examples" / "make_run.yaml"
# What the tools answer the roles that ask: the checks pass.
TOOL_RESULTS = {"check_script": '{"passed": true, "failed_checks": []}'}
# A coder round after a failed one gets the failures as feedback (coder.py writes them so).
FEEDBACK = "Failed checks: inside_workspace (seed 5): part 'bin_floor' is outside the workspace"
SKILL_PATH = "/workspace/skills/ball-over-wall-limits/SKILL.md"
SKILL = (
    "---\nname: ball-over-wall-limits\ndescription: keep bin_x small\nmetadata:\n  family: ball_over_wall\n"
    '  limits: "bin_x <= 562.5; ball_radius <= 38"\n  evidence: "req-1-v1"\n---\n# Limits\n\n```python\n'
    "bin_x = 562.5\n```\n"
)
# How deepagents' skills middleware lists a skill in the coder's system prompt.
SKILLS_LISTED = (
    f"You are the coder.\n- **ball-over-wall-limits**: limits\n  -> Read `{SKILL_PATH}` for full instructions"
)


def _play(role: str, task: str, files: dict[str, str], system: str = "") -> dict[str, str]:
    """Run `role` on `task` until it answers; the files it wrote, by path. `files` are what read_file shows."""
    model = chat_model(OFFLINE_MODEL, role)
    messages: list[BaseMessage] = [SystemMessage(system)] if system else []
    messages.append(HumanMessage(task))
    written: dict[str, str] = {}
    for _ in range(30):
        answer = model.invoke(messages)
        assert isinstance(answer, AIMessage)
        messages.append(answer)
        if not answer.tool_calls:
            return written
        for call in answer.tool_calls:
            args: dict[str, Any] = call["args"]
            if call["name"] == "write_file":
                written[args["file_path"]] = args["content"]
            shown = files.get(str(args.get("file_path")), "Error: no such file") if call["name"] == "read_file" else ""
            result = TOOL_RESULTS.get(call["name"], shown or "ok")
            messages.append(ToolMessage(result, name=call["name"], tool_call_id=call["id"] or ""))
    raise AssertionError(f"the offline {role} did not stop")


@functools.cache
def plan_md(prompt: str) -> str:
    """plan.md as the offline planner writes it for `prompt` (pure: computed once per prompt)."""
    return _play("planner", f"{REQUEST_MARKER}\n{prompt}", {})["/workspace/plan.md"]


@functools.cache
def script_py(prompt: str, plan: str, round_: int = 1, skill: bool = False) -> str | None:
    """script.py as the offline coder writes it from `plan` in `round_` (after failed rounds, with their
    failures as feedback), offered the ball_over_wall skill or no skill; None where it writes none."""
    state: dict[str, Any] = {"prompt": prompt, "round": round_}
    if round_ > 1:
        state["coder_feedback"] = FEEDBACK
    task = coder_task(state, SimpleNamespace(read_text=lambda name: plan))  # type: ignore[arg-type]
    files = {"/workspace/plan.md": plan, SKILL_PATH: SKILL}
    return _play("coder", task, files, SKILLS_LISTED if skill else "").get("/workspace/script.py")


def _sha(text: str | None) -> str:
    return hashlib.sha256(text.encode()).hexdigest() if text is not None else "-"


def _prompts(requests: list[BenchmarkRequest]) -> list[str]:
    return [request.agent_prompt(variant) for request in requests for variant in range(1, request.count + 1)]


def _digests(prompt: str, rounds: int) -> tuple[str, ...]:
    plan = plan_md(prompt)
    return (_sha(plan), *(_sha(script_py(prompt, plan, n)) for n in range(1, rounds + 1)))


def _assert_pinned(prompts: list[str], recorded: dict[str, tuple[str, ...]], rounds: int) -> None:
    assert list(recorded) == prompts, "the pinned prompts are not the requests' prompts"
    changed = [
        f"{prompt!r}: {digests} (recorded {recorded[prompt]})"
        for prompt in prompts
        if (digests := _digests(prompt, rounds)) != recorded[prompt]
    ]
    assert not changed, "the offline policy writes other bytes than recorded:\n" + "\n".join(changed)


# The `make run` batch as `benchgen generate --batch examples/make_run.yaml` reads it.
# prompt -> (plan.md, script.py of round 1, of round 2 after a failed round 1, of round 3): their sha256.
MAKE_RUN_DIGESTS: dict[str, tuple[str, ...]] = {
    "a steel ball of radius 40 mm must be moved 1 m sideways (tier 1)": (
        "4d2849100a9d9cce7bcdf528c47beb79a6262c1ca2097a07ea1442cfbc84056f",
        "8a4bf4905ce8ccf19150d77d185008d4a2d50512eb325bcd19f3e41e380a0dbe",
        "9c3b41063f10b741f7bebf235b8c2e83ab23d027bd77213937a4101b5777299a",
        "b91175a91d497ce4d0d8dcbf8ba5c5fac88d4a28d75190e18648fac9d9c9d644",
    ),
    "a box must pass under a low bar (tier 1)": (
        "68cff6bcaf4bde1143c45d3d7230658d3a5eaf4135fc27b3c94869d84d1df4a8",
        "f8b68d276a179fbccc536324b04291480181a7459cbf8afd3d706add2917f3ad",
        "f8b68d276a179fbccc536324b04291480181a7459cbf8afd3d706add2917f3ad",
        "f8b68d276a179fbccc536324b04291480181a7459cbf8afd3d706add2917f3ad",
    ),
    "class-1 lever where the fulcrum position varies (tier 2)": (
        "d674a03207a74fa65e924d4c65d88de41d6ee76cbe66b0e15cd7aff9a8a31f2f",
        "62ee579e6241e6eacc9745fe1a00741dc342ec2d1dad8bc0b6004e32eb136295",
        "62ee579e6241e6eacc9745fe1a00741dc342ec2d1dad8bc0b6004e32eb136295",
        "62ee579e6241e6eacc9745fe1a00741dc342ec2d1dad8bc0b6004e32eb136295",
    ),
    "a drawer that must be pulled open (tier 2)": (
        "f854af68837886c17c2fa69c81209993d2724365a2530eaacf7139aa0ab8651b",
        "10adf514e372d9bb515a43e0f6837ad6f425c2d8834d4a6a8731e781097a8a91",
        "10adf514e372d9bb515a43e0f6837ad6f425c2d8834d4a6a8731e781097a8a91",
        "10adf514e372d9bb515a43e0f6837ad6f425c2d8834d4a6a8731e781097a8a91",
    ),
}

# Beyond the batch: every family, sizes and travels that override nominal values, candidates 2..5 of a request
# (the pipeline varies each within the family's safe ranges), a refusal.
WIDER_REQUESTS = [
    BenchmarkRequest(prompt="throw a ball over a 150 mm wall into a bin", count=4),
    BenchmarkRequest(prompt="move a box round the bend of an L-shaped corridor", count=5),
    BenchmarkRequest(prompt="turn a crank to raise a weight 50 mm", count=4),
    BenchmarkRequest(prompt="a 60 mm cube must cross a 180 mm gap", count=5),
    BenchmarkRequest(prompt="push a ball through a self-closing gate 200 mm wide", count=5),
    BenchmarkRequest(prompt="10 class-1 lever puzzles where the fulcrum moves", count=4),
    BenchmarkRequest(prompt="lift a wooden box 20 cm up onto a shelf", count=5),
    BenchmarkRequest(prompt="insert a 25 mm square peg into a hole 60 mm deep", count=5),
    BenchmarkRequest(prompt="a drawer that must be pulled open", count=5, tier=2),
    BenchmarkRequest(prompt="pass a 60 mm block through a window in a wall", count=5),
    BenchmarkRequest(prompt="tier 1: push a crate under a low bar 70 mm high", count=5),
    BenchmarkRequest(prompt="a gearbox with 5 meshing helical gears"),
    BenchmarkRequest(prompt="a steel ball of radius 40 mm must be moved 1 m sideways", count=3, tier=1),
]
# prompt -> (plan.md, script.py of round 1).
WIDER_DIGESTS: dict[str, tuple[str, ...]] = {
    "throw a ball over a 150 mm wall into a bin. Candidate 1 of 4.": (
        "8a2e5c3743c278ee1cb5dde1f7350514d79afdd96c6a39abb0720b76aa999bc3",
        "4b368b01788196f73f1f2212339bb3c377e323997aadb1a9db6a1e8f79a61f26",
    ),
    "throw a ball over a 150 mm wall into a bin. Candidate 2 of 4.": (
        "52a44138f2240319418f67a99b816fdd4d6be5588f66b0e65a25efea51a836e0",
        "4d36e258588d30ead6f683f1dbf106413c7982d1c729569a32ddec7d16274e8a",
    ),
    "throw a ball over a 150 mm wall into a bin. Candidate 3 of 4.": (
        "e3696399a7268afeb328349f954661d793629121d4c3c731fd9e9bedc9d05c08",
        "c6f845aa4e239ed6ea474d0cf6a219683e1570adae25f88628c2c11ebd40dd0c",
    ),
    "throw a ball over a 150 mm wall into a bin. Candidate 4 of 4.": (
        "c0c2c4b92f3e8cd9bc63313a20012f74454d65008c02646d398571629b6a39d7",
        "acd4986c28db501853f607ea30955103efd8df972d55b8db171c089bf43929e7",
    ),
    "move a box round the bend of an L-shaped corridor. Candidate 1 of 5.": (
        "5b0ecfdc406b82ffaf988918bc7b6d3c927b7baafc36bcb05012459bcefd3ace",
        "a5983acfe702a67c9c69dba149065a3e69b478b36bac7bb5081fbec07ae6eba7",
    ),
    "move a box round the bend of an L-shaped corridor. Candidate 2 of 5.": (
        "4e3ebb58d076502e017006de60cd468dc7022fa950449202e0dca1eb372a12a8",
        "3f438915cf6d3debb3e9f516eee80170894f2acd9cc5b59636411f49325c0c00",
    ),
    "move a box round the bend of an L-shaped corridor. Candidate 3 of 5.": (
        "1603cbab99b8334016522957a47a646370ebe0feaa8a4b82f8046acbade1f29e",
        "f8a9d2327ebc49ec9a6e662706fe0468b78284056b6dd831526cccc5a299c91a",
    ),
    "move a box round the bend of an L-shaped corridor. Candidate 4 of 5.": (
        "4bb89b6c8d31d736450e4e86f959725fa481a92003ff5821513bbe51855df9b6",
        "93d163e846f383d295bd8d3c4bc9caa09419429ef54f087043b674902e85a364",
    ),
    "move a box round the bend of an L-shaped corridor. Candidate 5 of 5.": (
        "a1e546a0f654dd447183bc409788ef71b8385c18f65cfb5776998ed00ee0dff9",
        "3a66a653f13a1a2d9d590729a6405c1afd276e879e1680fe3e3329e80a23e3f9",
    ),
    "turn a crank to raise a weight 50 mm. Candidate 1 of 4.": (
        "e9c667f83d76b9dca7001e42d043e3f1dc0e05aa7a5ea7c9324f442a6c19a188",
        "9d604b74405989633bea08b2a4c2ff3414d5b39ddb4238ef786b3d31eee5700d",
    ),
    "turn a crank to raise a weight 50 mm. Candidate 2 of 4.": (
        "2c5e65ff4ce24025cab06b1022387d6e798beaca945fa644389653185d16d69c",
        "2e274382f35789fcc68f9aa42db8d32cd895b4bb369fbb17628343e08e6dbdcd",
    ),
    "turn a crank to raise a weight 50 mm. Candidate 3 of 4.": (
        "cbe727a521501fd2f45c3d82f4611940a3f20c317dde4052a658aab9cd90818b",
        "678d900a5a2ffc9dec46a4a37f6c869faf7c6c79e7b88e920cc1839440bf469e",
    ),
    "turn a crank to raise a weight 50 mm. Candidate 4 of 4.": (
        "c824780ce37b247ca0c02c73d95ea5fadebbe364e7a257b5d29152d7a2d1eb35",
        "b0287d870b6d8a70ba366dab59db7988d2ad184cd7336178c707e83aa9933c6b",
    ),
    "a 60 mm cube must cross a 180 mm gap. Candidate 1 of 5.": (
        "61a011f4fe581d37c076739087d4969c6bc4bcf4d8766e13242eb9ceee0a573c",
        "a0bc7de0db2b4613748a501436580852302f80e0d2d5f6b304ec37de4ea1a66c",
    ),
    "a 60 mm cube must cross a 180 mm gap. Candidate 2 of 5.": (
        "ddc2135ed65690dea0a88303b3fc7eda752faf42f8b2b0cab98da8f113eb0512",
        "de5aab2e05591d04ca2b7d571836384e491c33ada7090f05914c16226374993e",
    ),
    "a 60 mm cube must cross a 180 mm gap. Candidate 3 of 5.": (
        "1867c1bbc5e8a043f7976ec8db880f2bdc524fe33a6f8c5eae90a931141b7c89",
        "793481767c56bd8f912500338b04abb7b69bf5ed7c1efbfc3e94948380017366",
    ),
    "a 60 mm cube must cross a 180 mm gap. Candidate 4 of 5.": (
        "f584520331a4d14f4dd768bb307b9e0c93ce0d2be248ba9749d434f6ef8e5ccd",
        "d4c0d52f0beabfc1c6e3919bb1f56d4a6906662e849a0640c27a71b324148eeb",
    ),
    "a 60 mm cube must cross a 180 mm gap. Candidate 5 of 5.": (
        "75365e6ea6b98c6b5f89c1c37531fc19771cb9e6a1bc2127180ef49697bad508",
        "57f6eca1b8c6df14fa616cea64f0b4eea0c80edafa92fd75181593652bf82545",
    ),
    "push a ball through a self-closing gate 200 mm wide. Candidate 1 of 5.": (
        "de583cca6bd83d8b409abef1fbfe354e59cc88257b3241e7fd49b02d07d2c9bc",
        "6721308c457c562f61a6d227f4e21590ae796e198890c89b64ace78ced02e2b0",
    ),
    "push a ball through a self-closing gate 200 mm wide. Candidate 2 of 5.": (
        "7aef37667812a0783cf6222b94af912b12b4fa0f8903d2eccd41ad67db0575b9",
        "99fd8e89cff9fefa37d62358f4b973aab528860fddf34b3ecee7aa0685babed4",
    ),
    "push a ball through a self-closing gate 200 mm wide. Candidate 3 of 5.": (
        "063fb6d2f2670e0244e54e4a3b1239410869871b4583530afd5b8552891c434a",
        "7540736a02d3c9191ea2006a719a0256ceafdd6f92c79d651f13e581e6463403",
    ),
    "push a ball through a self-closing gate 200 mm wide. Candidate 4 of 5.": (
        "d02cad06b039bc9808b493756c30c5f4ddf6da4290fe2ebbe01acd027beec8ad",
        "b82ffabd305686ea5fd842902b55e5a82c1b9bcc436f408fd7b7710b07277040",
    ),
    "push a ball through a self-closing gate 200 mm wide. Candidate 5 of 5.": (
        "bf0b4b74a1efc1331512f767278645ca9e4b809e49d23e14c615b88da602f3b6",
        "af9904b2d2e392f259a6e81e0c3302b2951976d502790a0212e09fbcb31ca39c",
    ),
    "10 class-1 lever puzzles where the fulcrum moves. Candidate 1 of 4.": (
        "8cbfed15aff230677871f073292a6e2b5aa5bdfc8f4d0b8f4efab7c4fa947dcb",
        "77316a17888e10400bf97c6e046e60b8992aeeb202d211381cad37a92de4c335",
    ),
    "10 class-1 lever puzzles where the fulcrum moves. Candidate 2 of 4.": (
        "bf8278aeeadb820d6d9f9f9a0c02e602964d8f180cbfb4caf38d0603a7acdeb6",
        "b7740e89ae9549d4baa23d1f64d4c06ddace4f0b4db1b404dd3c44bf35469d57",
    ),
    "10 class-1 lever puzzles where the fulcrum moves. Candidate 3 of 4.": (
        "a65c06b145591c127c4b94dced8cc7021357acc9a9a0e12f20626796ca650823",
        "6c39d0a73c3587a2e3b56c12a15745b77d0cae911ad1d2bc35d2a279e0980cb3",
    ),
    "10 class-1 lever puzzles where the fulcrum moves. Candidate 4 of 4.": (
        "99fbe465c0a501e48cf3e68addb471f4e2841b9c4aad814a2a1806c8703f5716",
        "625417ccde0be1fc1cf453e2b9b667ad3332c2c5f76281034af89992bfc44582",
    ),
    "lift a wooden box 20 cm up onto a shelf. Candidate 1 of 5.": (
        "2466844512d1db6997e1ad49495d5bcff25548afdcf8bdf7cd61c21d0d1bf9a8",
        "6fd45e46c45273fcb71ed4e184c8613f60374bbf8ea565bb5da15a96a931f769",
    ),
    "lift a wooden box 20 cm up onto a shelf. Candidate 2 of 5.": (
        "00945d95522fce003f78d2e95eb8589f7ef520b425e0436f6c1b0e6d72ce34c0",
        "ddd1d887d46cb115c489aa6773c027b627dd5d0ec98c219f6a533140f3d646a1",
    ),
    "lift a wooden box 20 cm up onto a shelf. Candidate 3 of 5.": (
        "425aec7e79e5295e5737271d3b3f79a3c3fc4edf59bfd1621c7409e1094f2518",
        "3a9efc63c6e594d7857cfc171af71bad280e39a146ead465a25216e7372fd901",
    ),
    "lift a wooden box 20 cm up onto a shelf. Candidate 4 of 5.": (
        "ef80e47960a1dcf0a32ace3845be3d26816002b9055a8817545c2b26ae52cc18",
        "a885a3afb2bf950443b58774bbcfabb45751de7709f389d6fe880385793b3b32",
    ),
    "lift a wooden box 20 cm up onto a shelf. Candidate 5 of 5.": (
        "0208a822427b0a9087c829acca47d0dd6d416d3ed01b70e2abb1458ef23db44c",
        "1bd7eb970d7e8a3af516df7d9170f8a50d41ff3954428b4c3e84129b74c97587",
    ),
    "insert a 25 mm square peg into a hole 60 mm deep. Candidate 1 of 5.": (
        "3f8e3028e68b833ca8140c32d98304ad00bdb29b8c362f15a86333f64c818c63",
        "eabc236029377b2e4e09d685f4a650d73bd7dec89e268722ae7b0b0e25d361ae",
    ),
    "insert a 25 mm square peg into a hole 60 mm deep. Candidate 2 of 5.": (
        "99cae93ca165c29b84a81e76060eb31f04a88a4ecddda7b20cd38fa44012151e",
        "66ac305f5f2af42cda0a4061fe95e80ea24b410aae05409ec86f182602dbe5c8",
    ),
    "insert a 25 mm square peg into a hole 60 mm deep. Candidate 3 of 5.": (
        "d3bd810dea1e6c630d36112f1db6920e73eea3701df98f02fab43edf596d9a58",
        "3fdf14839f448d8f75b7a55432114c872f7a92dd6a613deb97aa804c680feb0f",
    ),
    "insert a 25 mm square peg into a hole 60 mm deep. Candidate 4 of 5.": (
        "1ddee7c804eafe89619406f231c719d568767eba426a2db6c71926f028366f78",
        "7cdea0f974e2ac57eb29c1da07fd12fcaa27d149d00168c0ef85aee178e0da09",
    ),
    "insert a 25 mm square peg into a hole 60 mm deep. Candidate 5 of 5.": (
        "e0acf61f5420f9ee8896d91309c0c9493959b76031830b432b495c65cc8e66bb",
        "2d9bdbaf48eea3c0c03338ae1c631002dcccb173263292aa5b4f8c21cc551771",
    ),
    "a drawer that must be pulled open (tier 2). Candidate 1 of 5.": (
        "10d9cdb5032e1a2d64aa036d965bc8fb46d4480d159020526ad980b8c210b247",
        "29a033bb34a3a157da48a943ca87536cdd939b1701af7e66dc7b1f80bde73667",
    ),
    "a drawer that must be pulled open (tier 2). Candidate 2 of 5.": (
        "f5613ec08f1185e379726dcf21c8937d4fb6daa73de1711d424097cf1ba9daee",
        "2791f1e717004504ebb44612e2f106830c15ae9e80f35e575adaedfeb67d88e0",
    ),
    "a drawer that must be pulled open (tier 2). Candidate 3 of 5.": (
        "093285e2a244254dc75e9aeed408ac9a66d36be615facc5e703ce04be026b219",
        "2fab00f745e166faabe410ae751665b584fe96da5dc5253c723215bf4055b906",
    ),
    "a drawer that must be pulled open (tier 2). Candidate 4 of 5.": (
        "a76fe708187667dc7049d33d79066d8f998103d495f7223a0ad7ad570d1c00c4",
        "51b88350cbbc5157dbad5e3f6c3de7f8178b8aef0083acad6ecff9a73ce7a5bc",
    ),
    "a drawer that must be pulled open (tier 2). Candidate 5 of 5.": (
        "4d2860ac30bc5176d342ccc62fc23ab36705e40f33a02eca79ba8e7be4ce15a3",
        "fdf2e4fd1cad671f37cefae9d627c0358e6594f681ff28cff8f966b9edf0d145",
    ),
    "pass a 60 mm block through a window in a wall. Candidate 1 of 5.": (
        "2126a1177f5964c7b07ca2d23765e51b57280307f768f76672ecf8a15eaa6f8a",
        "c8e02c6b38ac9ef0164b83c2459801f2fd8822bda0843816bb1a61b4c7a6ed36",
    ),
    "pass a 60 mm block through a window in a wall. Candidate 2 of 5.": (
        "722cbd3730ff7417540eb0e98955c47555025bb0f0534f48a1bafea5f1fd75d0",
        "0e3dd4fec7c7d1c900f5e722eaa83e9c9555a49b72e4c07350d0af31ef6af364",
    ),
    "pass a 60 mm block through a window in a wall. Candidate 3 of 5.": (
        "f95f921096a76ca5bc751e04911f035ca2f16a80c2d6a21309d7aa19e72701ca",
        "c3bb171069b4dbe47ecfd410763cf0289947634a4779b1ab10685e066a4d4888",
    ),
    "pass a 60 mm block through a window in a wall. Candidate 4 of 5.": (
        "5cd2be2c3d1ff14b463d55622020158b47130e224250363fe3407c59f3d3ee47",
        "e506baf1eaa0a4e8813687ca563e7af43852a27b29dda842ea5ce0b43f9b282f",
    ),
    "pass a 60 mm block through a window in a wall. Candidate 5 of 5.": (
        "dc4806a9e6ebc3b8ce3fe70707e09d6aed6c92efc5680d7ac4707789ae2d70bd",
        "d4a8f3169d14799fc0f82647929079a8cc9522d9b0dd26b5bb63d0d8799a391d",
    ),
    "tier 1: push a crate under a low bar 70 mm high. Candidate 1 of 5.": (
        "8812adf2cc8c441762999a4c929782ae75947ca985cebfbc6206d2eed8a99587",
        "0744b954f540923d20e85580b460c8780b4e3c598b532ea2dee1a6775a6c5ca1",
    ),
    "tier 1: push a crate under a low bar 70 mm high. Candidate 2 of 5.": (
        "07ecb2f875ad291524cfe66e3f2800360bbd2398e35d45bd3070bf8602cf0edd",
        "0c69145ceb9c3e1e90850b23d48339e827280a30be24494414d7db90056ebf30",
    ),
    "tier 1: push a crate under a low bar 70 mm high. Candidate 3 of 5.": (
        "190bd0369fecc918f656152cf4c72ec76e0b1bc1b8945e0c453850090eaded18",
        "d0cadc025b9b82e5b92975234b8d0313407d1aa570a1ba6eafe2d69d9abced5d",
    ),
    "tier 1: push a crate under a low bar 70 mm high. Candidate 4 of 5.": (
        "36adec1acac8c188afc7faddf7711aa284794200a80b0b77c30db2fd0c22a43b",
        "dcb967c96f42123fc7fd5ae3fd524bb00d6179d8b41e9f8be3ad77319fdaffba",
    ),
    "tier 1: push a crate under a low bar 70 mm high. Candidate 5 of 5.": (
        "30e53249ae6b246181a9a8affc193de44a416ee01ac0e6303f5a8d3bc6e866e4",
        "ba512189804a5ffc7b29dfe9d14f0008ee0f4367989b174d1989e715b8714538",
    ),
    "a gearbox with 5 meshing helical gears": ("c540518e3e62b79aa61e67d4acfef794a00a7e3a5216f4d2da9c2271f4cd5c65", "-"),
    "a steel ball of radius 40 mm must be moved 1 m sideways (tier 1). Candidate 1 of 3.": (
        "355874dd45b7092bcb5221d2b9a3cb1564a906373bd98e415e64b2702f2ebecd",
        "bd9659bc1472ee1a8c9ecde51ba6ae3dca44560a8a504d4ff21bde258199c0cd",
    ),
    "a steel ball of radius 40 mm must be moved 1 m sideways (tier 1). Candidate 2 of 3.": (
        "01960818d16b8962f19aba059bc995e132436cb0a8adb9bd5685eede73b3a503",
        "b40a72cd5427ea2d06e94a448f3043ac03697013651e854d97c18fa999e08e87",
    ),
    "a steel ball of radius 40 mm must be moved 1 m sideways (tier 1). Candidate 3 of 3.": (
        "e80fc8a0b290acc9524528e950b1638baa565507a48472274b3a9f6a944af8ed",
        "2743e0c9122a726e94acf9c3896c150d72eb5a0380685f988c6403be0c786fec",
    ),
}

# The make-run batch's first request with the skill offered: (round 1, round 2).
SKILL_DIGESTS: tuple[str, ...] = (
    "0148b1ddd27d2a80056d5f149089f7193bee9ff4f9f511015293431870bbeef1",
    "c77771ff4eb9c959563941e77a69167b3d0e393ba15e0752375128c04f36a300",
)


def test_the_make_run_batch_writes_the_plans_and_scripts_recorded() -> None:
    _assert_pinned(_prompts(read_batch_file(MAKE_RUN)), MAKE_RUN_DIGESTS, rounds=3)


def test_every_family_and_the_pipelines_variations_write_the_plans_and_scripts_recorded() -> None:
    _assert_pinned(_prompts(WIDER_REQUESTS), WIDER_DIGESTS, rounds=1)


def test_a_coder_offered_a_skill_writes_the_scripts_recorded() -> None:
    prompt = _prompts(read_batch_file(MAKE_RUN))[0]
    plan = plan_md(prompt)
    scripts = [script_py(prompt, plan, n, skill=True) for n in (1, 2)]
    assert tuple(_sha(s) for s in scripts) == SKILL_DIGESTS
    # The skill is applied: the pin would not notice a skill the coder no longer reads.
    assert scripts[0] is not None and "ball_radius 35 -> 38, bin_x 500 -> 562.5." in scripts[0]


def test_the_pins_reach_every_family_overrides_and_variations() -> None:
    from benchgen_dagster.library import families

    plans = [plan_md(prompt) for prompt in _prompts(WIDER_REQUESTS)]
    assert {f.name for f in families()} <= {line[len("family: ") :] for p in plans for line in p.splitlines()}
    scripts = [script_py(prompt, plan_md(prompt)) for prompt in _prompts(WIDER_REQUESTS)]
    assert sum(s is None for s in scripts) == 1  # the gearbox is refused
    assert len({s for s in scripts if s is not None}) == len(scripts) - 1  # every candidate a different script
    prompt = _prompts(read_batch_file(MAKE_RUN))[0]
    assert script_py(prompt, plan_md(prompt), 1) != script_py(prompt, plan_md(prompt), 2)  # a failed round changes it
