"""The template README's bake block, run as written (a newcomer's first two lines), in a fresh virtual
environment: it installs cookiecutter, then bakes a course from this template."""

import re
import shlex

from conftest import TEMPLATE, run, venv_seeing_these_packages


def bake_block() -> list[str]:
    readme = (TEMPLATE / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Two commands") :]
    block = re.search(r"```bash\n(.*?)```", section, re.S)[1]
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


def test_the_readme_installs_cookiecutter_before_it_bakes_with_it(tmp_path, template):
    install, bake = bake_block()
    assert install == "python3 -m pip install cookiecutter" and bake.startswith("cookiecutter gh:OWNER/REPO ")
    venv = venv_seeing_these_packages(tmp_path / "venv")  # the package index, as it sees it: no download
    python = venv / "bin" / "python"
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "PIP_NO_INDEX": "1"}
    run(["python3", *shlex.split(install)[1:]], tmp_path, env)
    words = shlex.split(bake)
    words[1] = str(template)  # this checkout, not GitHub
    # `cookiecutter` as its module: pip found it installed through the .pth file, so it wrote no script here
    run([python, "-m", *words, "-o", tmp_path / "out"], tmp_path, env)
    assert (tmp_path / "out" / "deep-learning-2026" / "pyproject.toml").is_file()
