"""Check every answer before the course is generated.

A bad answer stops the bake with one line per problem (which answer, what is wrong,
how to fix it) and exit code 1; cookiecutter then removes the half-made folder.
Only the standard library: the hook runs with cookiecutter's own interpreter.
"""

import json
import keyword
import re
import subprocess
import sys
import unicodedata

# Every answer, read safely: quotes, backslashes and newlines in a title cannot break this file.
ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")

CHOICES = {
    "license": ("MIT", "Apache-2.0", "CC-BY-4.0", "none"),
    "gpu_ci": ("self-hosted", "none"),
    "init_git": ("yes", "no"),
}

# Modules that lessons, tests or tools import by name: a course package with one of these
# names would be imported instead of the real module (compared in lower case, as macOS
# and Windows file systems do).
IMPORTED_BY_LESSONS = {
    "course",
    "conftest",
    "cv2",
    "datasets",
    "fastai",
    "fastcore",
    "fastdownload",
    "fastprogress",
    "google",
    "ipykernel",
    "ipython",
    "ipywidgets",
    "jupyter",
    "jupyter_client",
    "kaggle",
    "lessons",
    "matplotlib",
    "nbclient",
    "nbformat",
    "numpy",
    "packaging",
    "pandas",
    "papermill",
    "pil",
    "pip",
    "pooch",
    "psutil",
    "pytest",
    "requests",
    "scipy",
    "seaborn",
    "setuptools",
    "sklearn",
    "src",
    "test",
    "tests",
    "tomli",
    "torch",
    "torchaudio",
    "torchvision",
    "tqdm",
    "transformers",
    "yaml",
}
SHADOWED = IMPORTED_BY_LESSONS | {name.lower() for name in sys.stdlib_module_names}

MIN_PYTHON_MINOR = 10  # torch 2.9 and later (the course's floor is Colab's torch) need Python 3.10
# The post-generation hook reads the new pyproject.toml with tomllib (standard library from 3.11).
BAKING_PYTHON = (3, 11)


def check_interpreter(version_info):
    if tuple(version_info[:2]) < BAKING_PYTHON:
        running = ".".join(map(str, version_info[:3]))
        wanted = ".".join(map(str, BAKING_PYTHON))
        return (
            f"cookiecutter runs on Python {running}; generating this course needs Python {wanted} or newer: "
            f"install cookiecutter with it (e.g. `pipx install --python python{wanted} cookiecutter`) and run again"
        )
    return None


def has_control_characters(text):
    return any(unicodedata.category(char) == "Cc" for char in text)


def check_course_name(name):
    if not name.strip():
        return 'course_name is empty; type the course title, e.g. "Deep Learning Course"'
    if has_control_characters(name):
        return "course_name contains a line break or other control character; type the title on one line"
    return None


def check_project(project):
    if not project:
        return 'project is empty (the course name gives no ASCII slug); type one, e.g. "deep-learning-course"'
    if not re.fullmatch(r"[a-z0-9-]+", project):
        fixed = re.sub(r"[^a-z0-9]+", "-", project.lower()).strip("-") or "my-course"
        return f'project "{project}" may contain only lowercase ASCII letters, digits and dashes; use e.g. "{fixed}"'
    if project.startswith("-") or project.endswith("-"):
        return f'project "{project}" starts or ends with a dash; use "{project.strip("-")}"'
    return None


def check_package(package):
    if not package:
        return 'package is empty; type a Python import name, e.g. "deep_learning_course"'
    if package[0].isdigit():
        return f'package "{package}" starts with a digit; choose another, e.g. "course_{package}"'
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", package):
        fixed = re.sub(r"[^a-z0-9_]+", "_", package.lower()).strip("_") or "my_course"
        return (
            f'package "{package}" is not a valid import name (lowercase ASCII letters, digits '
            f'and underscores only); choose another, e.g. "{fixed}"'
        )
    if keyword.iskeyword(package) or keyword.issoftkeyword(package):
        return f'package "{package}" is a Python keyword; choose another, e.g. "{package}_course"'
    if package in SHADOWED:
        return (
            f'package "{package}" would shadow the module "{package}" that Python or the lessons '
            f'import; choose another, e.g. "{package}_course"'
        )
    return None


def check_author(author):
    if not author.strip() or has_control_characters(author):
        return 'author is empty or spans several lines; type a name, e.g. "Ada Lovelace"'
    return None


def check_email(email):
    # pyproject.toml metadata must hold a valid address, or `pip install` of the course fails.
    if not re.fullmatch(r"[^@\s\"<>,;]+@[^@\s\"<>,;]+\.[^@\s\"<>,;.]+", email):
        return f'email "{email}" is not an e-mail address; type one, e.g. "teacher@example.com"'
    return None


def check_github_user(user):
    # GitHub: 1-39 characters, letters, digits and single inner hyphens.
    if not re.fullmatch(r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}", user) or len(user) > 39:
        return (
            f'github_user "{user}" is not a valid GitHub user name (1-39 letters, digits or single '
            "hyphens, not at the start or end); type the account that will host the course"
        )
    return None


def check_github_repo(repo):
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", repo) or repo in {".", ".."}:
        return (
            f'github_repo "{repo}" is not a valid GitHub repository name (letters, digits, ".", '
            '"-", "_", at most 100); use e.g. the project name'
        )
    if repo.lower().endswith(".git"):
        return f'github_repo "{repo}" ends with ".git"; type the name without it: "{repo[:-4]}"'
    return None


def check_branch(branch):
    """git's own rules (`git check-ref-format --branch`); the files quote the name wherever it goes.

    Inside a repository git expands shorthands such as `@{-1}`: only a name that comes back as typed is valid.
    Without git only names that every git accepts pass (letters, digits, "_", inner "-" and "/").
    """
    try:
        checked = subprocess.run(["git", "check-ref-format", "--branch", branch], capture_output=True, text=True)
        valid = checked.returncode == 0 and checked.stdout.rstrip("\n") == branch
    except FileNotFoundError:
        valid = re.fullmatch(r"\w[\w-]*(/\w[\w-]*)*", branch, flags=re.ASCII) is not None
    if not valid or has_control_characters(branch):
        return (
            f'branch "{branch}" is not a valid git branch name (rules: `git help check-ref-format`; '
            'no spaces, "..", "~^:?*[\\", leading "-", trailing "/", ".lock" or "."); use e.g. "main"'
        )
    return None


def check_drive_folder(folder):
    parts = folder.replace("\\", "/").split("/")
    if not folder.strip() or has_control_characters(folder):
        return 'drive_folder is empty or has control characters; use e.g. "courses/deep-learning-course"'
    if folder.startswith(("/", "~", "\\")) or re.match(r"[A-Za-z]:", folder):
        return (
            f'drive_folder "{folder}" is absolute; give a folder relative to MyDrive, '
            'e.g. "courses/deep-learning-course"'
        )
    if ".." in parts:
        return (
            f'drive_folder "{folder}" contains ".."; give a folder inside MyDrive, e.g. "courses/deep-learning-course"'
        )
    if "\\" in folder:
        return f'drive_folder "{folder}" contains a backslash; separate folders with "/"'
    if parts[0] == "MyDrive":
        rest = "/".join(parts[1:])
        return f'drive_folder "{folder}" is already relative to MyDrive; drop the prefix: "{rest}"'
    return None


def check_python_version(version):
    match = re.fullmatch(r"3\.(\d{1,2})", version)
    if not match:
        return f'python_version "{version}" must look like "3.N", e.g. "3.11"'
    if int(match.group(1)) < MIN_PYTHON_MINOR:
        return (
            f'python_version "{version}" is older than 3.{MIN_PYTHON_MINOR}, the oldest the course '
            'supports (its torch needs it); use e.g. "3.11"'
        )
    return None


def check_choice(name, value):
    if value not in CHOICES[name]:
        allowed = ", ".join(f'"{choice}"' for choice in CHOICES[name])
        return f'{name} "{value}" is not one of the options; choose one of {allowed}'
    return None


def problems(answers):
    found = [
        check_interpreter(sys.version_info),
        check_course_name(answers["course_name"]),
        check_project(answers["project"]),
        check_package(answers["package"]),
        check_author(answers["author"]),
        check_email(answers["email"]),
        check_github_user(answers["github_user"]),
        check_github_repo(answers["github_repo"]),
        check_branch(answers["branch"]),
        check_drive_folder(answers["drive_folder"]),
        check_python_version(answers["python_version"]),
        *(check_choice(name, answers[name]) for name in CHOICES),
    ]
    return [problem for problem in found if problem]


def main():
    found = problems(ANSWERS)
    for problem in found:
        print(f"ERROR: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
