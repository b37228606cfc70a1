"""Unity ML-Agents bridge: skill environments over ``mlagents_envs.UnityEnvironment``.

``env`` needs ``mlagents_envs`` (its own virtualenv: ``bash bridges/unity/setup_venv.sh``);
``side_channel`` (the message codec) is standard library only.
"""
