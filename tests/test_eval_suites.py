"""`eval --suite generalisation` and `eval --suite general-ability` on a tiny-model toy checkpoint."""

from __future__ import annotations

import json

import pytest
import torch

from agent_runtime.cli import main
from agent_runtime.config import ConfigError, load_config
from agent_runtime.evaluate import evaluate
from agent_runtime.families import FAMILIES, family_of, member_configs
from agent_runtime.models import load_model
from agent_runtime.policy import ActorCritic
from agent_runtime.trainer import Trainer

TINY = ["model.name=tiny", "model.dtype=fp32", "run.progress=false", "log.tensorboard=false", "env.in_process=true"]
EPISODES = 8


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """A toy run of the tiny model: 1 PPO update (32 decisions), one checkpoint, run seed 3."""
    out = tmp_path_factory.mktemp("suites")
    cfg = load_config("toy", [*TINY, f"run.output_dir={out}", "run.total_decisions=32", "run.num_steps=4",
                              "checkpoint.every=0", "run.seed=3"])  # fmt: skip
    Trainer(cfg).train()
    return out / "toy"


def test_generalisation_suite_table_json_and_the_same_figures_as_plain_eval(toy_run, tmp_path, capsys):
    path = tmp_path / "gen.json"
    rc = main(["eval", "--suite", "generalisation", "--checkpoint", str(toy_run), "--episodes", str(EPISODES),
               "--json", str(path)])  # fmt: skip
    assert rc == 0
    shown = capsys.readouterr().out
    for word in ("generalisation: toy", "trained", "new-noun", "synonym-action", "door -> box", "success", "return"):
        assert word in shown
    report = json.loads(path.read_text())
    assert report["suite"] == "generalisation" and report["family"] == "toy"
    assert report["seeds"] == list(range(1000, 1000 + EPISODES)) and report["model"] == "tiny"
    assert report["policies"] == ["random", "zero-shot", "checkpoint"]
    names = [t["name"] for t in report["tasks"]]
    assert names == ["trained", "new-noun", "synonym-action", "both"]
    assert report["tasks"][1]["options"]["noun"] == "box" and report["tasks"][2]["options"]["verb"] == "unlock"
    for t in report["tasks"]:
        for kind in report["policies"]:
            s = t["results"][kind]
            assert s["episodes"] == EPISODES and 0.0 <= s["success_rate"] <= 1.0
            assert s["mean_return"] == pytest.approx(s["success_rate"])  # toy: +1 on success, one decision
    for t in report["tasks"][1:]:
        got = t["success_change"]["checkpoint"]
        want = t["results"]["checkpoint"]["success_rate"] - report["tasks"][0]["results"]["checkpoint"]["success_rate"]
        assert got == pytest.approx(want)
    # The suite's cells are what plain `eval` gives on the same config and seeds (the one rollout loop).
    seeds = report["seeds"]
    base = load_config(str(toy_run / "config.yaml"))
    variant = load_config(str(toy_run / "config.yaml"), ["env.options.noun=box"])
    for cfg, row in ((base, report["tasks"][0]), (variant, report["tasks"][1])):
        for kind in ("zero-shot", "checkpoint"):
            plain = evaluate(cfg, kind, seeds, checkpoint=str(toy_run) if kind == "checkpoint" else None)
            assert plain.summary()["success_rate"] == row["results"][kind]["success_rate"], (row["name"], kind)


def test_general_ability_suite_table_json_and_base_check(toy_run, capsys):
    rc = main(["eval", "--suite", "general-ability", "--checkpoint", str(toy_run)])
    assert rc == 0
    shown = capsys.readouterr().out
    assert "general ability: tiny" in shown and "perplexity" in shown and "MCQ accuracy" in shown
    report = json.loads((toy_run / "eval-general-ability.json").read_text())  # the default place: the run folder
    assert report["suite"] == "general-ability" and set(report["results"]) == {"base", "tuned"}
    for side in report["results"].values():
        assert side["text"]["tokens"] > 1000 and side["text"]["loglik_per_token"] < 0
        assert side["text"]["perplexity"] == pytest.approx(2.718281828 ** -side["text"]["loglik_per_token"])
        assert side["mcq"]["questions"] == 40 and 0.0 <= side["mcq"]["accuracy"] <= 1.0
        assert side["mcq"]["chance"] == pytest.approx(0.25)
    assert set(report["change"]) == {"loglik_per_token", "accuracy", "accuracy_per_token"}
    eq = report["base_equals_fresh_load"]
    assert eq["identical"] and eq["max_abs_diff"] == 0.0
    assert eq["adapter_on_max_abs_diff"] > 0.0  # the trained adapter does change the logits
    # The tuned model's text score differs from the base's: the adapter is on in the "tuned" column.
    assert report["change"]["loglik_per_token"] != 0.0


@pytest.mark.parametrize("kind", ["tiny", "tiny-t5"])
def test_adapter_disabled_gives_exactly_the_base_models_logits(kind):
    tuned = ActorCritic(load_model(kind, seed=5), lora_r=4, lora_alpha=8)
    with torch.no_grad():
        for p in tuned.actor_parameters():
            p.add_(0.5 * torch.randn_like(p))  # a "trained" adapter: both LoRA factors away from their init
    base = load_model(kind, seed=5)  # the same base model, loaded again
    ids = torch.tensor([tuned.tokenizer("The river rises in the hills to the north.")["input_ids"]])
    extra = {"decoder_input_ids": ids} if kind == "tiny-t5" else {}
    with torch.no_grad():
        ref = base.model(input_ids=ids, **extra).logits
        with tuned.adapters.active(None):
            off = tuned.model(input_ids=ids, **extra).logits
        on = tuned.model(input_ids=ids, **extra).logits
    assert torch.equal(off, ref)
    assert not torch.allclose(on, ref)


def test_families_build_variants_on_the_saved_config():
    saved = load_config("babyai-gotolocal", ["model.name=tiny", "lora.r=4", "env.options.history=2"]).to_dict()
    members = dict(member_configs(FAMILIES["babyai-gotolocal"], saved, [{"env": {"num_envs": 2}}]))
    assert list(members) == ["trained", "ood-nouns", "invented-words", "synonyms", "french"]
    for cfg in members.values():  # the run's own settings stay; the command's flags apply to every member
        assert cfg.model.name == "tiny" and cfg.lora.r == 4 and cfg.env.options["history"] == 2
        assert cfg.env.num_envs == 2 and cfg.env.task == "GoToLocal"
    assert members["ood-nouns"].env.options["rename"] == "ood_nouns"
    assert members["synonyms"].env.options["actions"] == "synonyms"
    assert members["french"].env.options["language"] == "french"
    assert "rename" not in members["trained"].env.options
    vh = load_config("virtualhome-food-preparation").to_dict()
    assert family_of(vh).name == "virtualhome-food-preparation"
    tasks = [c.env.task for _, c in member_configs(family_of(vh), vh, [])]
    assert tasks == ["food-preparation"] + [f"food-preparation-{v}" for v in
                                            ("cheese", "hamburger", "apple-pie", "pizza", "washing-plate", "laundry")]  # fmt: skip
    salad = load_config("overcooked-tomato-salad", ["env.options.max_steps=100"]).to_dict()
    members = dict(member_configs(family_of(salad), salad, []))
    assert list(members) == ["trained", "random-layout", "tomato-lettuce"]
    assert members["random-layout"].env.options["randomize"] is True and not members["trained"].env.options["randomize"]
    assert members["tomato-lettuce"].env.task == "tomato-lettuce-salad"
    assert all(c.env.options["max_steps"] == 100 for c in members.values())  # the run's own env settings stay
    with pytest.raises(ConfigError, match="no task family"):
        family_of(load_config("crafter").to_dict())


def test_suite_usage_errors(toy_run, tmp_path, capsys):
    assert main(["eval", "--suite", "generalisation"]) == 2
    assert "needs --checkpoint" in capsys.readouterr().err
    assert main(["eval", "--suite", "generalisation", "--checkpoint", str(tmp_path)]) == 2
    assert "no checkpoint there" in capsys.readouterr().err
    assert main(["eval", "--suite", "generalisation", "--checkpoint", str(toy_run), "--family", "nope"]) == 2
    assert "not declared" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["tiny", "tiny-t5"])
def test_heldout_loglik_per_token_is_the_models_own(kind):
    """The suite's per-token log-likelihood of a passage equals a plain forward's (decoder-only: after the
    start token; encoder-decoder: the passage as the target of a one-token encoder input)."""
    from agent_runtime.general_ability import load_data, text_loglik

    lm = load_model(kind, seed=1)
    passage = load_data("heldout_text.json")["passages"][3]
    got = text_loglik(lm.model, lm.tokenizer, [passage])
    toks = lm.tokenizer(passage, add_special_tokens=kind == "tiny")["input_ids"]
    ctx = lm.tokenizer.bos_token_id if lm.tokenizer.bos_token_id is not None else lm.tokenizer.eos_token_id
    with torch.no_grad():
        if kind == "tiny":
            ids = torch.tensor([[ctx, *toks]])
            lp = torch.log_softmax(lm.model(input_ids=ids).logits[0, :-1].float(), -1)
            want = float(lp[torch.arange(len(toks)), ids[0, 1:]].mean())
        else:
            want = -float(lm.model(input_ids=torch.tensor([[ctx]]), labels=torch.tensor([toks])).loss)
    assert got["tokens"] == len(toks)
    assert got["loglik_per_token"] == pytest.approx(want, abs=1e-4)
