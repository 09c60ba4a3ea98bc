"""`course student-course DEST --repo OWNER/NAME`: the course as students may have it, for a second,
public repository while this one (with the solutions) stays private.

DEST gets every file git tracks here, except that each lesson with exercises is its student version
(``student/lessons/`` becomes ``lessons/``), ``[tool.course]`` names the student repository, and
`course sync`'s fixes point the setup cells and the README's badges at it. The course is written to
a temporary folder first and checked for every line of a solution or hidden test; only a clean one
replaces DEST's files (its ``.git`` is kept), so a leak never reaches DEST, let alone its history.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from ..config import load_config
from ..errors import CourseError
from ..exercises import STUDENT_FOLDER
from ..exercises.leaks import exercise_problems, leaks, secrets_of
from ..git import GitFailed, git
from ..lessons import lesson_files
from .fixes import apply_fixes

# What only the teacher's repository needs: the tools (students install nothing of them), the tests and the
# workflows that run them.
TEACHERS_ONLY = ("tools", "tests", ".github")
REPO = re.compile(r"(?P<user>[A-Za-z0-9][A-Za-z0-9-]*)/(?P<name>[A-Za-z0-9._-]+)")


def write_student_course(root: Path, dest: Path, repo: str) -> int:
    """Replace DEST's files by the student course; returns the number of files written."""
    match = REPO.fullmatch(repo)
    if not match:
        raise CourseError(f"--repo {repo!r}: give the student repository as OWNER/NAME, e.g. my-org/ml-course")
    lessons = lesson_files(root)
    stale = exercise_problems(root, lessons)
    if stale:
        path, message = stale[0]
        raise CourseError(f"{path}: {message}; run `course assign` and commit, then publish")
    try:
        tracked = [name for name in git(root, "ls-files", "-z", raw=True).split("\0") if name]
    except GitFailed as error:
        raise CourseError(f"{error}: the student course is made from what git tracks here") from None
    dest = dest.resolve()
    if dest == root.resolve() or root.resolve() in dest.parents:
        raise CourseError(f"{dest} is inside this course: give a folder outside it (a clone of the student repository)")
    with tempfile.TemporaryDirectory(prefix="student-course-") as scratch:
        built = Path(scratch)
        for name in tracked:
            source = _source_of(root, name)
            if source is not None and source.is_file():
                target = built / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
        _name_repository(built / "pyproject.toml", match["user"], match["name"])
        apply_fixes(built, load_config(built))
        found = leaks(built, secrets_of(lessons))
        if found:
            path, line, lesson = found[0]
            raise CourseError(
                f"{path.relative_to(built)} would publish solution or hidden-test text of {lesson} ({line!r}); "
                "nothing was written"
            )
        _replace_contents(dest, built)
        return sum(1 for path in built.rglob("*") if path.is_file())


def _source_of(root: Path, name: str) -> Path | None:
    """Which file of this course becomes ``name`` in the student course (None: it is left out)."""
    parts = Path(name).parts
    if parts[:2] == (STUDENT_FOLDER, "lessons"):
        return None  # they become lessons/
    if parts[0] in TEACHERS_ONLY:
        return None
    if parts[0] == "lessons" and len(parts) == 2:
        student = root / STUDENT_FOLDER / "lessons" / parts[1]
        return student if student.is_file() else root / name
    return root / name


def _name_repository(pyproject: Path, user: str, name: str) -> None:
    text = pyproject.read_text(encoding="utf-8")
    for key, value in (("github_user", user), ("github_repo", name)):
        text, count = re.subn(rf'(?m)^{key}\s*=\s*".*"', f'{key} = "{value}"', text, count=1)
        if count != 1:
            raise CourseError(f"pyproject.toml has no {key} in [tool.course]: restore it, then publish")
    pyproject.write_text(text, encoding="utf-8")


def _replace_contents(dest: Path, built: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.iterdir():
        if old.name != ".git":
            shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink()
    for new in built.iterdir():
        shutil.move(str(new), dest / new.name)
