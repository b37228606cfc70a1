"""Task families: the task a policy is trained on and the variants it is tested on (generalisation suite).

A family names the config of its trained task and its variants. A variant is a config in configs/
(whose *difference* from the trained task's config makes the variant: a word change, another task of
the same simulator) and/or ``--set``-style overrides. The difference is applied to the sections
``VARIANT_SECTIONS`` of the checkpoint's own saved config, so the model, adapter and any setting the
run changed (environment count, step limit) stay those the policy was trained with.

- TWOSOME's unseen tasks (Tan et al., ICLR 2024, section 5.4): Food Preparation's scene and dynamics with
  other words (cheese, hamburger, apple pie, pizza; washing plates, laundry).
- GLAM's generalisation tests (Carta et al., ICML 2023, section 4.3) on GoToLocal: out-of-vocabulary
  nouns, invented words, synonym actions, French.
- GLAM's new compositions: trained on MixedTrainLocal, tested on the held-out missions of MixedTestLocal.
- The toy task with other words (tests of the suite's mechanics with the tiny model).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent_runtime.config import (
    Config,
    ConfigError,
    config_from_dict,
    parse_override,
    read_config_file,
    resolve_config_path,
)
from agent_runtime.config import _merge as merge_sections

VARIANT_SECTIONS = ("env", "prompt", "scoring")


@dataclass(frozen=True)
class Variant:
    name: str  # the row's label
    config: str | None = None  # configs/<config>.yaml
    overrides: tuple[str, ...] = ()  # section.key=value, applied after the config's difference
    note: str = ""  # what changes, in words


@dataclass(frozen=True)
class Family:
    name: str
    trained: str  # configs/<trained>.yaml: the task the policy was trained on
    variants: tuple[Variant, ...] = field(default_factory=tuple)
    source: str = ""  # whose test this is


_VH = "virtualhome-food-preparation"
_GLAM = "babyai-gotolocal"
_SALAD = "overcooked-tomato-salad"
FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            _VH,
            _VH,
            tuple(
                Variant(v, f"{_VH}-{v}", note=n)
                for v, n in (
                    ("cheese", "pancake -> cheese"),
                    ("hamburger", "pancake -> hamburger"),
                    ("apple-pie", "pancake -> apple pie"),
                    ("pizza", "pancake -> pizza"),
                    ("washing-plate", "pancake -> dishes, microwave -> dishwasher"),
                    ("laundry", "pancake -> clothes, microwave -> washing machine"),
                )
            ),
            "TWOSOME, unseen tasks",
        ),
        Family(
            _GLAM,
            _GLAM,
            (
                Variant("ood-nouns", f"{_GLAM}-ood-nouns", note="key -> chair, ball -> table, box -> car"),
                Variant("invented-words", f"{_GLAM}-invented-words", note="invented nouns and colours"),
                Variant("synonyms", f"{_GLAM}-synonyms", note="synonym action texts"),
                Variant("french", f"{_GLAM}-french", note="observations, goal and actions in French"),
            ),
            "GLAM, generalisation tests",
        ),
        Family(
            _SALAD,
            _SALAD,
            (
                Variant(
                    "random-layout",
                    overrides=("env.options.randomize=true",),
                    note="items and agent placed anew each reset",
                ),
                Variant(
                    "tomato-lettuce",
                    "overcooked-tomato-lettuce-salad",
                    note="unseen task: lettuce-tomato salad, onion distractor",
                ),
            ),
            "TWOSOME's kitchen: new layouts and an unseen dish",
        ),
        Family(
            "babyai-mixed",
            "babyai-mixed",
            (Variant("new-compositions", overrides=("env.task=MixedTestLocal",), note="held-out missions"),),
            "GLAM, new compositions",
        ),
        Family(
            "toy",
            "toy",
            (
                Variant("new-noun", overrides=("env.options.noun=box",), note="door -> box"),
                Variant("synonym-action", overrides=("env.options.verb=unlock",), note="open -> unlock"),
                Variant(
                    "both",
                    overrides=("env.options.noun=chest", "env.options.verb=try"),
                    note="door -> chest, open -> try",
                ),
            ),
            "the suite's own test family",
        ),
    )
}


def _difference(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """What ``b`` sets differently from ``a`` (recursively for mappings)."""
    out: dict[str, Any] = {}
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(a.get(k), dict):
            d = _difference(a[k], v)
            if d:
                out[k] = d
        elif a.get(k) != v:
            out[k] = v
    return out


def _task_key(data: dict[str, Any]) -> tuple[str, str]:
    env = data.get("env") or {}
    return str(env.get("bridge", "")).lower(), str(env.get("task", "")).lower().replace("_", "-")


def family_of(saved: dict[str, Any]) -> Family:
    """The family whose trained task (bridge and task) is the saved config's."""
    key = _task_key(saved)
    for fam in FAMILIES.values():
        if _task_key(read_config_file(resolve_config_path(fam.trained))) == key:
            return fam
    raise ConfigError(
        f"no task family is declared for bridge {key[0]!r}, task {key[1]!r} "
        f"(agent_runtime/families.py declares: {', '.join(FAMILIES)}); choose one with --family"
    )


def member_configs(family: Family, saved: dict[str, Any], overrides: list[dict[str, Any]]) -> list[tuple[str, Config]]:
    """(name, config) of the trained task and of every variant, each built on the saved config.

    ``overrides`` (the command's own flags, as section mappings) apply last, to every member."""
    trained_file = read_config_file(resolve_config_path(family.trained))
    members: list[tuple[str, dict[str, Any]]] = [("trained", {})]
    for v in family.variants:
        delta: dict[str, Any] = {}
        if v.config is not None:
            variant_file = read_config_file(resolve_config_path(v.config))
            for sec in VARIANT_SECTIONS:
                d = _difference(trained_file.get(sec) or {}, variant_file.get(sec) or {})
                if d:
                    delta[sec] = d
        for o in v.overrides:
            delta = merge_sections(delta, parse_override(o))
        members.append((v.name, delta))
    out = []
    for name, delta in members:
        data = merge_sections(saved, delta)
        for flags in overrides:
            data = merge_sections(data, flags)
        out.append((name, config_from_dict(data, f"{family.name}/{name}")))
    return out
