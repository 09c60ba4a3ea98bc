"""The tools are one distribution of their own: the course's README install takes them from the course's
``tools/`` folder (nothing unpublished is fetched), their wheel builds, and a course pins their version."""

import re
import sys
import tomllib
import zipfile

from conftest import run, venv_seeing_these_packages


def readme_install_line(course) -> str:
    """The teacher's install command, as the course's README gives it."""
    readme = (course / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Teachers") :]
    return next(line.strip() for line in section.splitlines() if line.strip().startswith("pip install -e"))


def tools_version(course) -> str:
    init = (course / "tools" / "src" / "colab_course_tools" / "__init__.py").read_text(encoding="utf-8")
    return re.search(r'__version__ = "([^"]+)"', init)[1]


def test_the_readme_install_takes_the_tools_from_the_course_folder_and_nothing_from_an_index(default_course, tmp_path):
    """A fresh venv that sees this environment's published packages (a .pth file) and no index at all: the README's
    line must find `colab-course-tools` in the course's folder, at the version its [dev] extra pins."""
    line = readme_install_line(default_course)
    assert line.startswith("pip install -e ./tools ") and '".[dev]"' in line
    venv = venv_seeing_these_packages(tmp_path / "venv")
    python = venv / "bin" / "python"
    run([python, "-m", "pip", "uninstall", "-q", "-y", "setuptools"], tmp_path, None)  # build with the pinned one
    arguments = line.split()[2:]  # after `pip install`
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "PIP_CONFIG_FILE": "/dev/null", "HOME": str(tmp_path)}
    install = [python, "-m", "pip", "install", "-q", "--no-index", "--no-build-isolation", *map(eval_quotes, arguments)]
    run(install, default_course, env)
    listed = run([python, "-m", "pip", "list", "--format", "freeze", "--editable"], tmp_path, env).stdout
    assert f"colab-course-tools=={tools_version(default_course)}" in listed.splitlines()
    help_text = run([venv / "bin" / "course", "--help"], default_course, env).stdout
    assert "usage: course" in help_text


def eval_quotes(word: str) -> str:
    return word.strip("'\"")


def test_the_tools_wheel_builds_with_its_version_and_the_course_command(default_course, tmp_path):
    version = tools_version(default_course)
    run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", tmp_path, "tools"],
        default_course,
        None,
    )
    (wheel,) = tmp_path.glob("*.whl")
    assert wheel.name == f"colab_course_tools-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = archive.read(f"colab_course_tools-{version}.dist-info/entry_points.txt").decode()
    assert "course = colab_course_tools.cli:main" in entry_points
    assert "colab_course_tools/harness/in_kernel.py" in names
    assert not [name for name in names if name.startswith(("deep_learning_course/", "tests/"))]


def test_the_course_pins_the_tools_version_in_every_extra_that_names_them(default_course):
    version = tools_version(default_course)
    extras = tomllib.loads((default_course / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    naming = [item for items in extras.values() for item in items if item.startswith("colab-course-tools")]
    assert naming and all(item.endswith(f"=={version}") for item in naming), naming
