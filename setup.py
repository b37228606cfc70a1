"""Adds the package ``agent_runtime.configs`` (the top-level configs/ folder, see pyproject.toml's package-dir).

``[tool.setuptools.packages.find]`` finds only folders that are packages under their own name; this
puts configs/ into the wheel as agent_runtime/configs/*.yaml, so that a regular install has its configs.
Everything else is in pyproject.toml.
"""

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED = "agent_runtime.configs"


class BuildPyWithConfigs(build_py):
    def finalize_options(self) -> None:
        super().finalize_options()
        if self.packages is not None and SHIPPED not in self.packages:
            self.packages.append(SHIPPED)


setup(cmdclass={"build_py": BuildPyWithConfigs})
