"""`course new`, `check`, `sync` and `colab-pins`: the commands that keep a course consistent while it grows."""

from __future__ import annotations

from pathlib import Path

from ..options import Command, argument
from .colab_pins import FREEZE_URL, OS_INFO_URL


def add_lesson(args) -> int:
    from ..config import find_root, load_config
    from .new_lesson import new_lesson

    root = find_root()
    config = load_config(root)
    path = new_lesson(root, config, args.title, exercise=args.exercise)
    print(f"created {path.relative_to(root).as_posix()} and listed it in README.md")
    if args.exercise:
        print("it ends with an exercise skeleton in otter's markers; `course assign` writes its student version")
    print(f"Colab link (works once pushed): {config.colab_url(path.name)}")
    return 0


def _report(problems: list) -> None:
    from ..formatting import plural

    for problem in sorted(problems, key=lambda problem: problem.path):
        print(problem)
    fixable = sum(problem.fixable for problem in problems)
    hint = f" ({fixable} can be fixed by `course sync`)" if fixable else ""
    print(f"{plural(len(problems), 'problem')} found{hint}")


def check_course(args) -> int:
    from ..config import find_root, load_config
    from ..formatting import plural
    from ..lessons import lesson_files
    from .checks import find_problems

    root = find_root()
    problems = find_problems(root, load_config(root))
    if not problems:
        print(f"all good: {plural(len(lesson_files(root)), 'lesson')} checked")
        return 0
    _report(problems)
    return 1


def sync_course(args) -> int:
    from ..config import find_root, load_config
    from ..formatting import plural, shown
    from ..lessons import lesson_files
    from .fixes import sync

    root = find_root()
    fixed, left, replaced = sync(root, load_config(root))
    for problem in fixed:
        print(f"fixed {problem.path}: {problem.message}")
    for cell in replaced:
        print(
            f"{cell.lesson.relative_to(root).as_posix()}: its edited setup cell was replaced by the canonical one "
            f"(generated from [tool.course]); the lesson as it was is in {shown(cell.backup)}:"
        )
        print(cell.diff)
    if left:
        _report(left)
        return 1
    print(f"all good: {len(fixed)} fixed, {plural(len(lesson_files(root)), 'lesson')} checked")
    return 0


def student_course(args) -> int:
    from ..config import find_root
    from .student_course import write_student_course

    written = write_student_course(find_root(), Path(args.dest), args.repo)
    print(f"{args.dest}: the student course, {written} files (no solution, no hidden test); commit and push it")
    return 0


def pin_colab(args) -> int:
    from ..config import find_root
    from ..formatting import shown
    from .colab_pins import PINS_FILE, update

    root = find_root()
    changes = update(root, args.freeze, args.os_info)
    target = shown(root / PINS_FILE)
    if not changes:
        print(f"{target} already has Colab's versions; the floors in pyproject.toml match what CI tests")
        return 0
    print(f"updated {target} and pyproject.toml:", *(f"  {change}" for change in changes), sep="\n")
    print("commit both; the lessons (Colab) workflow runs the lessons on these versions")
    return 0


COMMANDS = [
    Command(
        "new",
        help="add the next numbered lesson and list it in the README",
        handler=add_lesson,
        arguments=(
            argument("title", help='lesson title, e.g. "Convolutions"'),
            argument("--exercise", action="store_true", help="end it with an exercise to fill in (docs/exercises.md)"),
        ),
    ),
    Command("check", help="list every problem in lessons, README and repo; exit 1 if any", handler=check_course),
    Command("sync", help="fix what can be fixed automatically, report the rest", handler=sync_course),
    Command(
        "student-course",
        help="write the course as students may have it (student versions, no solution) into a folder",
        description="For a public student repository while this one, with the solutions, stays private: "
        "every tracked file, each lesson with exercises as its student version, [tool.course] and the setup "
        "cells naming the student repository. Checked for solution and hidden-test text before anything is "
        "written. DEST is usually a clone of the student repository; its .git is kept.",
        handler=student_course,
        arguments=(
            argument("dest", metavar="DEST", help="folder to fill (its files are replaced, its .git kept)"),
            argument("--repo", required=True, metavar="OWNER/NAME", help="the student repository on GitHub"),
        ),
    ),
    Command(
        "colab-pins",
        help="pin Colab's package versions in constraints/colab.txt and set the floors CI tests",
        description="Write constraints/colab.txt from the package list Colab publishes (the packages "
        "constraints/ci.txt pins, and Colab's Python), and set each floor in pyproject.toml to the "
        "oldest version CI tests.",
        handler=pin_colab,
        arguments=(
            argument(
                "--freeze", default=FREEZE_URL, metavar="FILE_OR_URL", help="Colab's pip freeze (default: %(default)s)"
            ),
            argument("--os-info", default=OS_INFO_URL, metavar="FILE_OR_URL", help="Colab's os-info, for its Python"),
        ),
    ),
]
