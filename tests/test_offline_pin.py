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
        "98a642fb432b44ed8f3664ee27bb8b3d850ec71c7c86c9ea7b0603515f615f1c",
        "2fddd416b01374194566d950772369e3bf716faee1ef06716abbb76a533dd5aa",
        "ea1145d1ef560dcc77c9362f3d4f1f46bfbe97c1ac8d1a83cfa825d9bcdb82e1",
        "c1c5a5c5fc644465be011bde778ff21c923a5ffc01f36df3ab7bb615b38457c8",
    ),
    "a box must pass under a low bar (tier 1)": (
        "ad3952a36596f3b73f07e53a28803e351f5acb9972eebd4762cbf5a79858dd79",
        "f8b68d276a179fbccc536324b04291480181a7459cbf8afd3d706add2917f3ad",
        "f8b68d276a179fbccc536324b04291480181a7459cbf8afd3d706add2917f3ad",
        "f8b68d276a179fbccc536324b04291480181a7459cbf8afd3d706add2917f3ad",
    ),
    "class-1 lever where the fulcrum position varies (tier 2)": (
        "bc73edcef4a0b339bd0e0c1f8a7753479c5a911f5ea16e0c382c609764b4b535",
        "62ee579e6241e6eacc9745fe1a00741dc342ec2d1dad8bc0b6004e32eb136295",
        "62ee579e6241e6eacc9745fe1a00741dc342ec2d1dad8bc0b6004e32eb136295",
        "62ee579e6241e6eacc9745fe1a00741dc342ec2d1dad8bc0b6004e32eb136295",
    ),
    "a drawer that must be pulled open (tier 2)": (
        "29b25362581c6bf32b317642685e0d4fe76ce6100056cc2b0351352737e53937",
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
        "775cd5983b224517b0da769704226a2efca7ba2f0e6817a7cee327832f8cb67c",
        "4b368b01788196f73f1f2212339bb3c377e323997aadb1a9db6a1e8f79a61f26",
    ),
    "throw a ball over a 150 mm wall into a bin. Candidate 2 of 4.": (
        "6fce7f2f3ff5f58f0399cc972a4a281331ee8a3b6bb96fc31a1c311da994ed4f",
        "4d36e258588d30ead6f683f1dbf106413c7982d1c729569a32ddec7d16274e8a",
    ),
    "throw a ball over a 150 mm wall into a bin. Candidate 3 of 4.": (
        "0563f827a282a0f9e64936536db0a6a6d793e8ba9e1ae23def17d925689921d4",
        "c6f845aa4e239ed6ea474d0cf6a219683e1570adae25f88628c2c11ebd40dd0c",
    ),
    "throw a ball over a 150 mm wall into a bin. Candidate 4 of 4.": (
        "bd5549d01fc257bc783bb4719c78b5285a340ec2c90c34dfcc37ab47e786e7c0",
        "acd4986c28db501853f607ea30955103efd8df972d55b8db171c089bf43929e7",
    ),
    "move a box round the bend of an L-shaped corridor. Candidate 1 of 5.": (
        "2b546b250c4d1d1034aa40741f4ca01cdf7f470faa5a4f490c75f252f3f7b2c1",
        "a5983acfe702a67c9c69dba149065a3e69b478b36bac7bb5081fbec07ae6eba7",
    ),
    "move a box round the bend of an L-shaped corridor. Candidate 2 of 5.": (
        "be41f10855a7c79b5150b507896a67642c55363cc8f7b55be59353d99e0066c9",
        "3f438915cf6d3debb3e9f516eee80170894f2acd9cc5b59636411f49325c0c00",
    ),
    "move a box round the bend of an L-shaped corridor. Candidate 3 of 5.": (
        "7c0df9319d83d2ae971e016a0f09ff34bcce20f24b9fbd53a8209273ff29f67d",
        "f8a9d2327ebc49ec9a6e662706fe0468b78284056b6dd831526cccc5a299c91a",
    ),
    "move a box round the bend of an L-shaped corridor. Candidate 4 of 5.": (
        "8a1962c5195274e3c11874238912d22c40f94a43c4f4edec219f68c3cd673958",
        "93d163e846f383d295bd8d3c4bc9caa09419429ef54f087043b674902e85a364",
    ),
    "move a box round the bend of an L-shaped corridor. Candidate 5 of 5.": (
        "81aa2d09f7a6432570b011e4669c2a738dfc37665dd80d1160426b708f950e87",
        "3a66a653f13a1a2d9d590729a6405c1afd276e879e1680fe3e3329e80a23e3f9",
    ),
    "turn a crank to raise a weight 50 mm. Candidate 1 of 4.": (
        "218037f2f1bccb7a56bdea26e39bd47ff81014dd4f320fa37cb5c20cb065cfde",
        "9d604b74405989633bea08b2a4c2ff3414d5b39ddb4238ef786b3d31eee5700d",
    ),
    "turn a crank to raise a weight 50 mm. Candidate 2 of 4.": (
        "0429d64d8b893e40c8b4d6c41425b580b87abc3d5f2b7aa318161abdf84b04e5",
        "2e274382f35789fcc68f9aa42db8d32cd895b4bb369fbb17628343e08e6dbdcd",
    ),
    "turn a crank to raise a weight 50 mm. Candidate 3 of 4.": (
        "a03866e79f82144bca417d168ac0578cd140b92741ec87a065b3bbe16967ff7f",
        "678d900a5a2ffc9dec46a4a37f6c869faf7c6c79e7b88e920cc1839440bf469e",
    ),
    "turn a crank to raise a weight 50 mm. Candidate 4 of 4.": (
        "9005b1e57a659c318a0328d60cc326b34964a72822d82e0471e5d5b985601b2e",
        "b0287d870b6d8a70ba366dab59db7988d2ad184cd7336178c707e83aa9933c6b",
    ),
    "a 60 mm cube must cross a 180 mm gap. Candidate 1 of 5.": (
        "e411af4d82ffc171033da87cb14d6e8a24d901f6da233288b5d5f836ab289c9a",
        "a0bc7de0db2b4613748a501436580852302f80e0d2d5f6b304ec37de4ea1a66c",
    ),
    "a 60 mm cube must cross a 180 mm gap. Candidate 2 of 5.": (
        "ee7bca5a9f23684897901e3b48dcf6719a6cbf7200d94bed319d63770923500a",
        "de5aab2e05591d04ca2b7d571836384e491c33ada7090f05914c16226374993e",
    ),
    "a 60 mm cube must cross a 180 mm gap. Candidate 3 of 5.": (
        "edabc1e0a6d6e3cc5c2ebad0f0e1b473363baf1a312c2da8677934f0a38fc5b5",
        "793481767c56bd8f912500338b04abb7b69bf5ed7c1efbfc3e94948380017366",
    ),
    "a 60 mm cube must cross a 180 mm gap. Candidate 4 of 5.": (
        "f708b33a90b70f805ebcce4c3ca31413656772c57b4c35d20ee025dd74deaaa9",
        "d4c0d52f0beabfc1c6e3919bb1f56d4a6906662e849a0640c27a71b324148eeb",
    ),
    "a 60 mm cube must cross a 180 mm gap. Candidate 5 of 5.": (
        "616481076a4137280e4e1cc0e1fe2c0371f2ab621635f1bd206fa6029aee867d",
        "57f6eca1b8c6df14fa616cea64f0b4eea0c80edafa92fd75181593652bf82545",
    ),
    "push a ball through a self-closing gate 200 mm wide. Candidate 1 of 5.": (
        "3656dba3d1c5c774af07a41de119d2060fb99959aed14ee2c1928cd29ce09e5a",
        "6721308c457c562f61a6d227f4e21590ae796e198890c89b64ace78ced02e2b0",
    ),
    "push a ball through a self-closing gate 200 mm wide. Candidate 2 of 5.": (
        "8dd065d311063f611de33735101afa3a9ab112ce2d3ec438051e0756cdf0560a",
        "99fd8e89cff9fefa37d62358f4b973aab528860fddf34b3ecee7aa0685babed4",
    ),
    "push a ball through a self-closing gate 200 mm wide. Candidate 3 of 5.": (
        "006e6464778551ac38536429a10fbed7f14899ca37fafc829b0a29a9cf54eb21",
        "7540736a02d3c9191ea2006a719a0256ceafdd6f92c79d651f13e581e6463403",
    ),
    "push a ball through a self-closing gate 200 mm wide. Candidate 4 of 5.": (
        "9e5e473f9642cbca962a281077d578d8326bb898745d74b5a9221307ce7e774c",
        "b82ffabd305686ea5fd842902b55e5a82c1b9bcc436f408fd7b7710b07277040",
    ),
    "push a ball through a self-closing gate 200 mm wide. Candidate 5 of 5.": (
        "db94d8db194809d896ad4721dfe6e593bb5175423d675c46287103ba92a0de84",
        "af9904b2d2e392f259a6e81e0c3302b2951976d502790a0212e09fbcb31ca39c",
    ),
    "10 class-1 lever puzzles where the fulcrum moves. Candidate 1 of 4.": (
        "d5cea93d880ad05b3ab93af615be2a913a137c81678d4dd1f5a2015072cb9cb9",
        "77316a17888e10400bf97c6e046e60b8992aeeb202d211381cad37a92de4c335",
    ),
    "10 class-1 lever puzzles where the fulcrum moves. Candidate 2 of 4.": (
        "87bb970281e24c19b44e3d2fb6da994ea15d4399534baec915aa2db92f31d780",
        "b7740e89ae9549d4baa23d1f64d4c06ddace4f0b4db1b404dd3c44bf35469d57",
    ),
    "10 class-1 lever puzzles where the fulcrum moves. Candidate 3 of 4.": (
        "25ebad0c8218eb64c6dc47346e82361410f50f4b19e5ef493f8a2235f51925de",
        "6c39d0a73c3587a2e3b56c12a15745b77d0cae911ad1d2bc35d2a279e0980cb3",
    ),
    "10 class-1 lever puzzles where the fulcrum moves. Candidate 4 of 4.": (
        "b2c89253a4269676126fe53e2d132036678e00e95c15c7ec489a54c1e1336732",
        "625417ccde0be1fc1cf453e2b9b667ad3332c2c5f76281034af89992bfc44582",
    ),
    "lift a wooden box 20 cm up onto a shelf. Candidate 1 of 5.": (
        "0c590e25bc42149e521b2bcf35a57b29791c0f6d8a0524453cb40125abda2c03",
        "6fd45e46c45273fcb71ed4e184c8613f60374bbf8ea565bb5da15a96a931f769",
    ),
    "lift a wooden box 20 cm up onto a shelf. Candidate 2 of 5.": (
        "4c62e7f4f3b29baf795a882dee33a1f93d8b3f129d648dad34587fdcbc6a34ae",
        "ddd1d887d46cb115c489aa6773c027b627dd5d0ec98c219f6a533140f3d646a1",
    ),
    "lift a wooden box 20 cm up onto a shelf. Candidate 3 of 5.": (
        "72b54376e94710aa08b087f5174dbb56573d4d9511ac3e8e443fd0fc56f83ea5",
        "3a9efc63c6e594d7857cfc171af71bad280e39a146ead465a25216e7372fd901",
    ),
    "lift a wooden box 20 cm up onto a shelf. Candidate 4 of 5.": (
        "70ae16cd0260ea6829cf3a19fbd4aaedf32b96efd6f8bb1f99fc74ef8771dc1b",
        "a885a3afb2bf950443b58774bbcfabb45751de7709f389d6fe880385793b3b32",
    ),
    "lift a wooden box 20 cm up onto a shelf. Candidate 5 of 5.": (
        "89bc98298234f0568c0294415ae7863cdc28676b5e92d6bd0e7348210d5d3114",
        "1bd7eb970d7e8a3af516df7d9170f8a50d41ff3954428b4c3e84129b74c97587",
    ),
    "insert a 25 mm square peg into a hole 60 mm deep. Candidate 1 of 5.": (
        "b3197dbd44d9c88207b5e1bbe837d5f2fc574e28501c7986a43042ed94c791e9",
        "eabc236029377b2e4e09d685f4a650d73bd7dec89e268722ae7b0b0e25d361ae",
    ),
    "insert a 25 mm square peg into a hole 60 mm deep. Candidate 2 of 5.": (
        "da8b3ab023eaf80b28edbbdd70594c9bcd83ff720f47797a626fcf6237c3d5ed",
        "66ac305f5f2af42cda0a4061fe95e80ea24b410aae05409ec86f182602dbe5c8",
    ),
    "insert a 25 mm square peg into a hole 60 mm deep. Candidate 3 of 5.": (
        "54dcfedb7e439c358b8b4e63f631d41ff2dec623c668f07fcdd588e48affaf06",
        "3fdf14839f448d8f75b7a55432114c872f7a92dd6a613deb97aa804c680feb0f",
    ),
    "insert a 25 mm square peg into a hole 60 mm deep. Candidate 4 of 5.": (
        "d1870241c299968d76b1d9f8186c1e566f501869825d741f3598450708519317",
        "7cdea0f974e2ac57eb29c1da07fd12fcaa27d149d00168c0ef85aee178e0da09",
    ),
    "insert a 25 mm square peg into a hole 60 mm deep. Candidate 5 of 5.": (
        "12535b79319648ef2a3433e01e08112176447f34264d986241c176cd0b2841a3",
        "2d9bdbaf48eea3c0c03338ae1c631002dcccb173263292aa5b4f8c21cc551771",
    ),
    "a drawer that must be pulled open (tier 2). Candidate 1 of 5.": (
        "21ff656365e7dac6ed2eedb9d5d37137e8577b248a3dc577f49eaaf2f6be6517",
        "29a033bb34a3a157da48a943ca87536cdd939b1701af7e66dc7b1f80bde73667",
    ),
    "a drawer that must be pulled open (tier 2). Candidate 2 of 5.": (
        "e94b49385bc2552035116212a66b0058f6285dab25229156702c6f7d619cb8c2",
        "2791f1e717004504ebb44612e2f106830c15ae9e80f35e575adaedfeb67d88e0",
    ),
    "a drawer that must be pulled open (tier 2). Candidate 3 of 5.": (
        "62bafd61aa5fdcb8c9adb46972c83759b50d8fea705ee659a11820215d03dc28",
        "2fab00f745e166faabe410ae751665b584fe96da5dc5253c723215bf4055b906",
    ),
    "a drawer that must be pulled open (tier 2). Candidate 4 of 5.": (
        "0db3440647a579aa91f876abbd10689a68ac839734101996cd3b0f6ac7d57f3f",
        "51b88350cbbc5157dbad5e3f6c3de7f8178b8aef0083acad6ecff9a73ce7a5bc",
    ),
    "a drawer that must be pulled open (tier 2). Candidate 5 of 5.": (
        "ba5aff3d15016961eb503123c185c542cf2550293e517d68c20570e7a4f69766",
        "fdf2e4fd1cad671f37cefae9d627c0358e6594f681ff28cff8f966b9edf0d145",
    ),
    "pass a 60 mm block through a window in a wall. Candidate 1 of 5.": (
        "793fbf28ed14f184435d3f1fc69f6e72e610d8e5743b1b60449d1f9ee5b54f47",
        "c8e02c6b38ac9ef0164b83c2459801f2fd8822bda0843816bb1a61b4c7a6ed36",
    ),
    "pass a 60 mm block through a window in a wall. Candidate 2 of 5.": (
        "c5924fe074df10ef46c86304b609398877088a50e72a878b6be754667d92c958",
        "0e3dd4fec7c7d1c900f5e722eaa83e9c9555a49b72e4c07350d0af31ef6af364",
    ),
    "pass a 60 mm block through a window in a wall. Candidate 3 of 5.": (
        "81a29cc098f89ac6fba4a6d590d6cddf49165866adc4e07a6b2cc7be9929169e",
        "c3bb171069b4dbe47ecfd410763cf0289947634a4779b1ab10685e066a4d4888",
    ),
    "pass a 60 mm block through a window in a wall. Candidate 4 of 5.": (
        "5f9de3be9ef43a73da9bb9a32942f0175c1e56b1fea103bda2b3b6bd0399ce54",
        "e506baf1eaa0a4e8813687ca563e7af43852a27b29dda842ea5ce0b43f9b282f",
    ),
    "pass a 60 mm block through a window in a wall. Candidate 5 of 5.": (
        "ce0d72df3e4ddb6fce73efc52de40ad06d7ca100bc2c48204968307752495016",
        "d4a8f3169d14799fc0f82647929079a8cc9522d9b0dd26b5bb63d0d8799a391d",
    ),
    "tier 1: push a crate under a low bar 70 mm high. Candidate 1 of 5.": (
        "44d6dec1567ca745809080403261072f962d626b2fcb7be75a638834c098b09c",
        "0744b954f540923d20e85580b460c8780b4e3c598b532ea2dee1a6775a6c5ca1",
    ),
    "tier 1: push a crate under a low bar 70 mm high. Candidate 2 of 5.": (
        "76be65747845cc9199e56d6ca89c4b7a394039301205a2b191d2de92462448f0",
        "0c69145ceb9c3e1e90850b23d48339e827280a30be24494414d7db90056ebf30",
    ),
    "tier 1: push a crate under a low bar 70 mm high. Candidate 3 of 5.": (
        "b2b5b35992a8232afa2096fece0b2c36695a8a4b0407e6d4796eab761cdf95fe",
        "d0cadc025b9b82e5b92975234b8d0313407d1aa570a1ba6eafe2d69d9abced5d",
    ),
    "tier 1: push a crate under a low bar 70 mm high. Candidate 4 of 5.": (
        "5e741f6f1908e2ab58284829c714d365c7ecba0ecb90cd206f2503e246eb36de",
        "dcb967c96f42123fc7fd5ae3fd524bb00d6179d8b41e9f8be3ad77319fdaffba",
    ),
    "tier 1: push a crate under a low bar 70 mm high. Candidate 5 of 5.": (
        "6b42c69a24d86a9b9357cc5b4ea492561e275e2c598182e8e7dc8e8855b6d455",
        "ba512189804a5ffc7b29dfe9d14f0008ee0f4367989b174d1989e715b8714538",
    ),
    "a gearbox with 5 meshing helical gears": ("c540518e3e62b79aa61e67d4acfef794a00a7e3a5216f4d2da9c2271f4cd5c65", "-"),
    "a steel ball of radius 40 mm must be moved 1 m sideways (tier 1). Candidate 1 of 3.": (
        "8c1c667aea6e6d36357beaec5ef7b6e4b3764b95c8811f918ad54615338c3667",
        "c9b731a43c0094742a3422a78a291f860bb67d57f8fd44e38337abd49c46461f",
    ),
    "a steel ball of radius 40 mm must be moved 1 m sideways (tier 1). Candidate 2 of 3.": (
        "1ce9720305fccd6bb64495a878dba4bb927b2a263b3c07f76fb932541862f1ec",
        "a902f49ce75ebf7ba59b2cda417e8edc88b3b1a2861f11654cf353a9625fa14e",
    ),
    "a steel ball of radius 40 mm must be moved 1 m sideways (tier 1). Candidate 3 of 3.": (
        "78a96cc5b2e9c34b8a2a182588c555794322492d705de6ba4fb1ac7394df0a53",
        "7b618de53d228643cea3b7b66d16a2f9e686bc641ccbe74551a92ffed4ca3485",
    ),
}

# The make-run batch's first request with the skill offered: (round 1, round 2).
SKILL_DIGESTS: tuple[str, ...] = (
    "2c29ee03066ed90af54cb0ed056fe1aa489bb313352a52421a88051270ea43e5",
    "4853d959dad900d2200d5f00c53c67ceb27afa7874374dc98a5e12211b39334f",
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
    # (The plan grows the layout 1.15× with bin_x 569.5 mm: the skill holds it to 562.5.)
    assert scripts[0] is not None and "ball_radius 35 -> 34.8, bin_x 500 -> 562.5." in scripts[0]


def test_the_pins_reach_every_family_overrides_and_variations() -> None:
    from benchgen_dagster.library import families

    plans = [plan_md(prompt) for prompt in _prompts(WIDER_REQUESTS)]
    assert {f.name for f in families()} <= {line[len("family: ") :] for p in plans for line in p.splitlines()}
    scripts = [script_py(prompt, plan_md(prompt)) for prompt in _prompts(WIDER_REQUESTS)]
    assert sum(s is None for s in scripts) == 1  # the gearbox is refused
    assert len({s for s in scripts if s is not None}) == len(scripts) - 1  # every candidate a different script
    prompt = _prompts(read_batch_file(MAKE_RUN))[0]
    assert script_py(prompt, plan_md(prompt), 1) != script_py(prompt, plan_md(prompt), 2)  # a failed round changes it
