"""The environments agree: pyproject.toml, envs/regscale.yaml and requirements.lock pin
the same versions, so a rule run with --use-conda computes what .venv computes."""

import tomllib

import yaml

from conftest import REPO


def pins(lines) -> dict[str, str]:
    found = {}
    for line in lines:
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.strip().split("==")
            found[name.strip().lower().replace("_", "-")] = version.strip()
    return found


def test_pyproject_conda_env_and_lock_pin_the_same_versions():
    project = pins(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"])
    assert project["torch"] == "2.14.1" and project["torchvision"] == "0.29.1"
    env = yaml.safe_load((REPO / "envs" / "regscale.yaml").read_text())
    pip_section = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    conda = pins(pip_section)
    lock = pins((REPO / "requirements.lock").read_text().splitlines())
    for name, version in conda.items():
        assert project.get(name) == version, f"envs/regscale.yaml pins {name}=={version}, pyproject {project.get(name)}"
    for name, version in project.items():
        assert lock.get(name) == version, f"requirements.lock has {name}=={lock.get(name)}, pyproject {version}"
    assert "python=3.11" in env["dependencies"]
