"""Runtime and device detection, `course env`, and a package import that stays cheap."""

import importlib.metadata
import os
import platform
import re
import subprocess
import sys

import pytest
import torch

from conftest import PACKAGE, ROOT
from {{ cookiecutter.package }} import bootstrap, environment

RUNTIME_VARIABLES = ("COLAB_RELEASE_TAG", "KAGGLE_KERNEL_RUN_TYPE", "CI", "GITHUB_ACTIONS")


@pytest.fixture
def clean_env(monkeypatch):
    for name in RUNTIME_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    "variables, expected",
    [
        ({}, "local"),
        ({"COLAB_RELEASE_TAG": "release-colab_20260101-060000"}, "colab"),
        ({"KAGGLE_KERNEL_RUN_TYPE": "Interactive"}, "kaggle"),
        ({"CI": "true"}, "ci"),
        ({"GITHUB_ACTIONS": "true"}, "ci"),
        ({"CI": "false"}, "local"),
        ({"CI": "0"}, "local"),
        ({"COLAB_RELEASE_TAG": "x", "CI": "true"}, "colab"),
        ({"KAGGLE_KERNEL_RUN_TYPE": "Batch", "CI": "1"}, "kaggle"),
    ],
)
def test_runtime_from_environment_variables(clean_env, variables, expected):
    for name, value in variables.items():
        clean_env.setenv(name, value)
    assert environment.runtime() == expected


def test_runtime_is_colab_when_google_colab_is_importable(tmp_path, subprocess_env):
    (tmp_path / "google" / "colab").mkdir(parents=True)
    for package in ("google", "google/colab"):  # regular packages: they win over any installed `google`
        (tmp_path / package / "__init__.py").write_text("")
    env = {k: v for k, v in subprocess_env.items() if k not in RUNTIME_VARIABLES}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env["PYTHONPATH"]])
    code = f"import {PACKAGE}.environment as e; print(e.runtime())"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "colab"


def test_device_info_matches_torch():
    info = environment.device_info()
    if torch.cuda.is_available():
        assert info.kind == "cuda"
        assert info.name == torch.cuda.get_device_name(0)
        assert info.memory_gb > 0
        assert info.capability == "{}.{}".format(*torch.cuda.get_device_capability(0))
        assert str(info).startswith(info.name)
    else:
        assert (info.kind, info.memory_gb, info.capability) == ("cpu", None, None)
        assert str(info) == f"CPU ({platform.machine()}, {info.count} cores)"


def test_versions_come_from_installed_metadata():
    found = environment.versions()
    assert found["python"] == platform.python_version()
    assert found["torch"] == importlib.metadata.version("torch")
    assert found["fastai"] == importlib.metadata.version("fastai")


def test_course_env_prints_a_table(course_cli, subprocess_env, tmp_path):
    env = {k: v for k, v in subprocess_env.items() if k not in RUNTIME_VARIABLES}
    (tmp_path / "drive" / "MyDrive").mkdir(parents=True)
    env.update(
        COLAB_RELEASE_TAG="release-colab_20260101-060000",
        COURSE_DRIVE_MOUNT=str(tmp_path / "drive"),
        COURSE_CHECKPOINTS=str(tmp_path / "ckpt"),
        COURSE_LOCAL_DATA=str(tmp_path / "local"),
    )
    result = course_cli("env", env=env)

    assert result.returncode == 0, result.stderr
    rows = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in result.stdout.splitlines())
    assert rows["runtime"] == "colab"
    assert rows["google drive"] == f"mounted at {tmp_path / 'drive'}"
    assert rows["local data"] == str(tmp_path / "local")
    assert rows["device"] == str(environment.device_info())
    assert rows["torch"] == importlib.metadata.version("torch")
    assert rows["course root"] == str(ROOT)
    assert rows["checkpoints"] == str(tmp_path / "ckpt")
    assert rows["data cache"] == str(ROOT / "data")


def test_env_outside_a_course_still_describes_the_runtime(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    rows = bootstrap.describe()
    assert rows["course root"].startswith(f"not found (no pyproject.toml in {tmp_path.resolve()} or above")
    assert rows["runtime"] == environment.runtime() and "torch" in rows


def test_import_does_not_load_heavy_libraries(subprocess_env):
    code = (
        f"import sys, {PACKAGE} as course\n"
        "course.environment.runtime()\n"
        "heavy = ('torch', 'fastai', 'numpy', 'pandas', 'requests', 'pooch', 'matplotlib', 'papermill')\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=subprocess_env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
