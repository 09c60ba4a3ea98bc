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
from {{ cookiecutter.package }}.config import load_config
from {{ cookiecutter.package }}.errors import CourseError

RUNTIME_VARIABLES = ("COLAB_RELEASE_TAG", "KAGGLE_KERNEL_RUN_TYPE", "KAGGLE_URL_BASE", "CI", "GITHUB_ACTIONS")


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
        ({"KAGGLE_URL_BASE": "https://www.kaggle.com"}, "kaggle"),
        ({"KAGGLE_KERNEL_RUN_TYPE": "Interactive", "COLAB_RELEASE_TAG": "x"}, "kaggle"),  # Kaggle's image is Colab's
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
    from colab_course_tools import __version__ as tools_version

    assert rows["tools"] == f"colab-course-tools {tools_version}"  # which tools ran, beside what they ran on
    assert rows["data cache"] == str(ROOT / "data")
    assert re.fullmatch(r"\d+\.\d GB RAM", rows["memory"])
    assert float(rows["memory"].split()[0]) == pytest.approx(environment.memory_gb(), abs=0.05)


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


def test_memory_is_what_the_kernel_reports():
    with open("/proc/meminfo") as meminfo:  # the OS's own count, in KiB
        total_kib = int(next(line for line in meminfo if line.startswith("MemTotal:")).split()[1])
    assert environment.memory_gb() == pytest.approx(total_kib * 1024 / 1e9, rel=0.01)


@pytest.mark.parametrize(
    "text, message",
    [
        ('[project]\nname = "x"\n', "has no [tool.course] table, the course's settings: if this is your course, "),
        ('[tool.course]\ntitle = "T"\n', "[tool.course] in {pyproject} has no `package`: add it"),
        ("[tool.course\n", "is not valid TOML"),
    ],
)
def test_a_folder_that_is_no_course_is_one_clear_error(tmp_path, text, message):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(text)
    with pytest.raises(CourseError) as caught:
        load_config(tmp_path)
    assert message.format(pyproject=pyproject) in str(caught.value)
    assert "KeyError" not in str(caught.value) and "('tool')" not in str(caught.value)


def test_memory_budget_is_read_and_checked(tmp_path):
    table = (ROOT / "pyproject.toml").read_text().split("[tool.course]")[1].split("\n[")[0]
    (tmp_path / "pyproject.toml").write_text("[tool.course]" + table + "\nmemory_budget_gb = 25.5\n")
    assert load_config(tmp_path).memory_budget_gb == 25.5
    assert load_config(ROOT).memory_budget_gb == 12.7  # Colab's standard runtime when not set
    (tmp_path / "pyproject.toml").write_text("[tool.course]" + table + '\nmemory_budget_gb = "lots"\n')
    with pytest.raises(CourseError, match="memory_budget_gb = 'lots'.*give a positive number, e.g. 12.7"):
        load_config(tmp_path)


CPU_FIX = (
    "pip install --force-reinstall --no-deps 'torchvision==0.28.*' --index-url https://download.pytorch.org/whl/cpu"
)


@pytest.mark.parametrize(
    "torch_version, vision_version, expected",
    [
        ("2.14.1", "0.29.1", None),
        ("2.13.0+cpu", "0.28.0+cpu", None),
        ("2.14.1", None, None),
        # what pip left when PyTorch's CPU index could not be reached: a CPU torch beside PyPI's torchvision
        ("2.13.0+cpu", "0.28.0", f"are different builds (the CPU build beside the default (CUDA on Linux) build), "
         f"so importing torchvision fails: {CPU_FIX}"),
        ("2.14.1", "0.28.0", "torchvision 0.28.0 does not fit torch 2.14.1 (it needs torchvision 0.29): "
         "pip install --force-reinstall --no-deps 'torchvision==0.29.*'"),
    ],
)  # fmt: skip
def test_a_torch_pair_that_cannot_work_is_named_with_its_fix(torch_version, vision_version, expected):
    problem = environment.torch_pair_problem({"torch": torch_version, "torchvision": vision_version})
    assert problem == expected if expected is None else expected in problem


def fake_distributions(folder, **versions):
    """Package metadata (what pip records) saying these versions are installed; no code."""
    for name, version in versions.items():
        info = folder / f"{name}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return folder


def test_course_env_and_the_setup_cell_name_a_broken_torch_pair(
    course_cli, subprocess_env, tmp_path, monkeypatch, capsys
):
    """The newcomer's environment: torch 2.13.0+cpu beside torchvision 0.28.0, as their metadata says."""
    fake = fake_distributions(tmp_path / "site", torch="2.13.0+cpu", torchvision="0.28.0")
    env = {**subprocess_env, "PYTHONPATH": os.pathsep.join([str(fake), subprocess_env["PYTHONPATH"]])}
    done = course_cli("env", env=env)
    assert done.returncode == 0, done.stderr
    (warning,) = [line for line in done.stdout.splitlines() if line.startswith("warning")]
    assert CPU_FIX in warning
    # ... and the fix that needs no other index than PyPI, since the CPU index may be what failed
    assert (
        "where that index cannot be reached: pip install --force-reinstall 'torch==2.13.*' 'torchvision==0.28.*'"
        in warning
    )
    assert "importing torch to see the device" in done.stderr, "says what the seconds of importing are for"

    monkeypatch.syspath_prepend(str(fake))
    monkeypatch.setenv("COURSE_ROOT", str(ROOT))
    bootstrap.setup(ROOT, install=False)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Course ready · ")
    assert any(
        line.startswith("Warning: torch 2.13.0+cpu and torchvision 0.28.0") and CPU_FIX in line for line in lines
    )
