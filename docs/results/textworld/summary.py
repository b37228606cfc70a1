"""Summarise the TextWorld runs of this folder (episode logs) as a Markdown table row each."""

import json
from pathlib import Path

HERE = Path(__file__).parent


def rows(name: str, path: Path) -> str:
    eps = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    n = len(eps)
    half = eps[n // 2:]
    mean = lambda xs: sum(xs) / max(1, len(xs))
    return (f"| {name} | {n} | {mean([e['return'] for e in eps]):.2f} | {mean([float(e['success']) for e in eps]):.2f} | "
            f"{mean([e['return'] for e in half]):.2f} | {mean([float(e['success']) for e in half]):.2f} |")


if __name__ == "__main__":
    print("| policy | episodes | mean return | success | mean return, last half | success, last half |")
    print("|---|---|---|---|---|---|")
    for name, path in (("random", HERE / "random.jsonl"), ("zero-shot", HERE / "zero-shot.jsonl"),
                       ("LLM-PPO (training episodes)", HERE / "ppo" / "episodes.jsonl")):
        if path.exists():
            print(rows(name, path))
