"""Finish the generated course: prune what the answers turned off, run `course sync`'s fixes
(setup cells, README lesson table), optionally make the first git commit, print next steps.

Safe to run twice and deterministic (no dates, no network), as `cruft update` re-runs it.
Runs in the new course folder with cookiecutter's interpreter, before anything is installed:
standard library only, plus the course's tools' own modules from the fresh tools/src/ (the
template's tests run this hook in an interpreter that has nothing but the standard library).
"""

import importlib
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

# Every answer, read safely: quotes, backslashes and newlines in a title cannot break this file.
ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")

ROOT = Path.cwd()
GPU_WORKFLOW = ROOT / ".github" / "workflows" / "lessons-gpu.yml"
PLACEHOLDER_USER = "your-github-user"  # the default answer of github_user
FIRST_COMMIT = "Create the course from the template"


def remove_license():
    if ANSWERS["license"] == "none":
        (ROOT / "LICENSE").unlink(missing_ok=True)


def remove_gpu_workflow():
    if ANSWERS["gpu_ci"] == "none":
        GPU_WORKFLOW.unlink(missing_ok=True)


def tools_module(name):
    """A module of the course's tools, imported from tools/src/ without leaving __pycache__ behind."""
    sys.dont_write_bytecode = True
    if str(ROOT / "tools" / "src") not in sys.path:
        sys.path.insert(0, str(ROOT / "tools" / "src"))
    return importlib.import_module(f"colab_course_tools.{name}")


def sync_course():
    """`course sync`'s fixes (setup cells, README lesson table), so a fresh course passes `course check`."""
    config = tools_module("config").load_config(ROOT)
    tools_module("authoring.fixes").apply_fixes(ROOT, config)
    return config


def git(*args):
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)


def git_identity():
    """`-c` options naming the author from the answers, for machines with no git identity yet."""
    options = []
    if not git("config", "user.name").stdout.strip():
        options += ["-c", f"user.name={ANSWERS['author']}"]
    if not git("config", "user.email").stdout.strip():
        options += ["-c", f"user.email={ANSWERS['email']}"]
    return options


def init_git():
    """`git init` + a first commit on the chosen branch; returns a line to show the user."""
    if ANSWERS["init_git"] != "yes":
        return None
    if shutil.which("git") is None:
        return "git was not found: install it, then run `git init` and commit in this folder."
    if (ROOT / ".git").exists():
        return "git repository already present: left as it is."
    steps = {
        "init": ["init", "--quiet"],
        "branch": ["symbolic-ref", "HEAD", f"refs/heads/{ANSWERS['branch']}"],
        "add": ["add", "--all"],
        "commit": [
            *git_identity(),
            "-c",
            "commit.gpgsign=false",
            "commit",
            "--quiet",
            "--no-verify",
            "-m",
            FIRST_COMMIT,
        ],
    }
    for name, args in steps.items():
        result = git(*args)
        if result.returncode != 0:
            error = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
            return f"git {name} failed ({error[-1]}): run `git init` and commit by hand."
    return f"git repository created with a first commit on branch {ANSWERS['branch']}."


INSTALL_NOTE = "# the course and its tools, the `course` command (Linux without a GPU: CPU torch first, see README.md)"


def next_steps(config, git_line, lessons):
    """What to do next; the commands quoted for the shell, so any branch name copies and pastes safely."""
    branch = shlex.quote(ANSWERS["branch"])
    lines = [
        f'Created {ANSWERS["project"]}/ for the course "{ANSWERS["course_name"]}".',
        *([git_line] if git_line else []),
        "Next steps:",
        f"  cd {shlex.quote(ANSWERS['project'])}",
        f"  python3 -m venv .venv && . .venv/bin/activate && pip install -e ./tools -e '.[dev]'   {INSTALL_NOTE}",
    ]
    if ANSWERS["init_git"] != "yes":
        lines += [f'  git init -b {branch} && git add --all && git commit -m "{FIRST_COMMIT}"']
    lines += [
        f"  create the empty repository {ANSWERS['github_user']}/{ANSWERS['github_repo']} on GitHub, then:",
        f"  git remote add origin {config.repo_url}",
        f"  git push -u origin {branch}",
    ]
    if lessons:
        lines += [f"  open the first lesson in Colab: {config.colab_url(lessons[0].name)}"]
    if ANSWERS["github_user"] == PLACEHOLDER_USER:
        lines += [
            f'Note: "{PLACEHOLDER_USER}" is a placeholder. Put the real account in [tool.course] '
            "of pyproject.toml, then run `course sync` (installed by the pip line above) to update the badges "
            "and setup cells."
        ]
    return "\n".join(lines)


def main():
    remove_license()
    remove_gpu_workflow()
    config = sync_course()
    git_line = init_git()
    print(next_steps(config, git_line, tools_module("lessons").lesson_files(ROOT)))


if __name__ == "__main__":
    main()
