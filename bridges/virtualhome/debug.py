"""Run raw VirtualHome script lines or skill ids on a task and print what happens (debugging).

    python -m bridges.virtualhome.debug --task entertainment \
        --line "[walk] <chips> (61)" --line "[grab] <chips> (61)" [--vh-data PATH] [--scene NAME]
    python -m bridges.virtualhome.debug --task food-preparation --actions 4,6,5,8,7,9

Each line is first checked (and the reason printed when it is not executable), then executed
as one step; the prompt text, valid skills and flags after it are printed.
"""

from __future__ import annotations

import argparse
import sys

from bridges.virtualhome.env import make_env
from bridges.virtualhome.tasks import task_names


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bridges.virtualhome.debug", description=__doc__.split("\n")[0])
    p.add_argument("--task", default="food-preparation", choices=task_names())
    p.add_argument("--vh-data", default=None, help="VirtualHome data folder (scenes/*.json, resources/*.json)")
    p.add_argument("--scene", default=None, help="scene file stem inside the data folder")
    p.add_argument("--line", action="append", default=[], help="a script line, e.g. '[walk] <kitchen> (11)'")
    p.add_argument("--actions", default="", help="comma-separated env action ids (spec tables), run after the lines")
    args = p.parse_args(argv)
    env = make_env(args.task, vh_data=args.vh_data, scene=args.scene)
    obs = env.reset()
    print(f"[reset] {env.backend.description}\n  {obs.text}\n  skills: {obs.skills}\n  vector: {obs.info['vector']}")
    steps = [("line", line) for line in args.line]
    steps += [("action", int(a)) for a in args.actions.split(",") if a.strip()]
    for kind, what in steps:
        if env._ended:
            print("episode ended")
            break
        if kind == "line":
            ok, why = env.check_line(what)
            print(f"[check] {what}: {'executable' if ok else 'NOT executable: ' + why}")
            obs = env.execute_line(what)
        else:
            if what not in env.action_ids:
                print(f"[action {what}] not offered now (valid ids {env.action_ids}); stepping anyway as a raw line")
                obs = env.execute_line(env.spec.skills[what].line(env.ids))
            else:
                obs = env.step(env.action_ids.index(what))
        status = "ok" if obs.info["executed"] else "failed: " + obs.info["error"]
        print(
            f"[step {obs.info['step']}] {obs.info['script']} -> {status}; reward {obs.reward}, done {obs.done}, "
            f"truncated {obs.truncated}\n  {obs.text}\n  skills: {obs.skills}\n  vector: {obs.info['vector']}"
        )
    env.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
