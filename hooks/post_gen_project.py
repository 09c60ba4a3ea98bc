"""Finish the generated course: prune what the answers turned off, write the lessons' setup
cells and the README lesson table, optionally make the first git commit, print next steps.

Safe to run twice and deterministic (no dates, no network), as `cruft update` re-runs it.
Runs in the new course folder with cookiecutter's interpreter: standard library only, plus
the course package's stdlib-only modules imported from the freshly generated src/.
"""
import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

# Every answer, read safely: quotes, backslashes and newlines in a title cannot break this file.
ANSWERS = json.loads(r'''{{ cookiecutter | tojson }}''')

ROOT = Path.cwd()
LESSONS = ROOT / "lessons"
GPU_WORKFLOW = ROOT / ".github" / "workflows" / "lessons-gpu.yml"
PLACEHOLDER_USER = "your-github-user"  # the default answer of github_user
FIRST_COMMIT = "Create the course from the template"


def remove_license():
    if ANSWERS["license"] == "none":
        (ROOT / "LICENSE").unlink(missing_ok=True)


def remove_gpu_workflow():
    if ANSWERS["gpu_ci"] == "none":
        GPU_WORKFLOW.unlink(missing_ok=True)


def import_course_package():
    """The generated package, imported from src/ without leaving __pycache__ behind."""
    sys.dont_write_bytecode = True
    sys.path.insert(0, str(ROOT / "src"))
    for module in ("config", "lesson_format", "lessons"):
        importlib.import_module(f"{ANSWERS['package']}.{module}")
    return importlib.import_module(ANSWERS["package"])


def fill_lessons_and_readme(package):
    """Write the canonical setup cell into every lesson and the lesson table into README.md."""
    config = package.config.CourseConfig(
        title=ANSWERS["course_name"],
        package=ANSWERS["package"],
        github_user=ANSWERS["github_user"],
        github_repo=ANSWERS["github_repo"],
        branch=ANSWERS["branch"],
        drive_folder=ANSWERS["drive_folder"],
    )
    package.lesson_format.sync_setup_cells(LESSONS, config)
    package.lessons.write_lesson_table(ROOT, config)
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
        "commit": [*git_identity(), "-c", "commit.gpgsign=false", "commit", "--quiet",
                   "--no-verify", "-m", FIRST_COMMIT],
    }
    for name, args in steps.items():
        result = git(*args)
        if result.returncode != 0:
            error = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
            return f"git {name} failed ({error[-1]}): run `git init` and commit by hand."
    return f"git repository created with a first commit on branch {ANSWERS['branch']}."


def next_steps(config, git_line):
    lessons = sorted(LESSONS.glob("*.ipynb"))
    lines = [
        f"Created {ANSWERS['project']}/ for the course \"{ANSWERS['course_name']}\".",
        *([git_line] if git_line else []),
        "Next steps:",
        f"  cd {ANSWERS['project']}",
    ]
    if ANSWERS["init_git"] != "yes":
        lines += [f'  git init -b {ANSWERS["branch"]} && git add --all && git commit -m "{FIRST_COMMIT}"']
    lines += [
        f"  create the empty repository {ANSWERS['github_user']}/{ANSWERS['github_repo']} on GitHub, then:",
        f"  git remote add origin {config.repo_url}",
        f"  git push -u origin {ANSWERS['branch']}",
    ]
    if lessons:
        lines += [f"  open the first lesson in Colab: {config.colab_url(lessons[0].name)}"]
    if ANSWERS["github_user"] == PLACEHOLDER_USER:
        lines += [
            f'Note: "{PLACEHOLDER_USER}" is a placeholder. Put the real account in [tool.course] '
            "of pyproject.toml, then run `course sync` to update the badges and setup cells."
        ]
    return "\n".join(lines)


def main():
    remove_license()
    remove_gpu_workflow()
    config = fill_lessons_and_readme(import_course_package())
    git_line = init_git()
    print(next_steps(config, git_line))


if __name__ == "__main__":
    main()
