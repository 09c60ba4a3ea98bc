"""`course new`, `check`, `sync` and `colab-pins`: the commands that keep a course consistent while it grows."""

from __future__ import annotations

from ..options import Command, argument
from .colab_pins import FREEZE_URL, OS_INFO_URL


def add_lesson(args) -> int:
    from ..config import find_root, load_config
    from .new_lesson import new_lesson

    root = find_root()
    config = load_config(root)
    path = new_lesson(root, config, args.title)
    print(f"created {path.relative_to(root).as_posix()} and listed it in README.md")
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
    from .. import notebooks
    from ..config import find_root, load_config
    from ..formatting import plural
    from .checks import find_problems

    root = find_root()
    problems = find_problems(root, load_config(root))
    if not problems:
        print(f"all good: {plural(len(notebooks.lesson_files(root)), 'lesson')} checked")
        return 0
    _report(problems)
    return 1


def sync_course(args) -> int:
    from .. import notebooks
    from ..config import find_root, load_config
    from ..formatting import plural, shown
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
    print(f"all good: {len(fixed)} fixed, {plural(len(notebooks.lesson_files(root)), 'lesson')} checked")
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
        arguments=(argument("title", help='lesson title, e.g. "Convolutions"'),),
    ),
    Command("check", help="list every problem in lessons, README and repo; exit 1 if any", handler=check_course),
    Command("sync", help="fix what can be fixed automatically, report the rest", handler=sync_course),
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
