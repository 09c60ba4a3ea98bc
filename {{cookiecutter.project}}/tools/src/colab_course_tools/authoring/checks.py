"""The rules a course keeps: each check returns the problems it finds, each with its fix.

`course check` lists them; ``fixes`` applies the ones marked fixable (`course sync`).
"""

from __future__ import annotations

import copy
import importlib.util
import re
import shlex
import subprocess
import sys
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .. import drive, notebooks, parameters
from ..cell_code import assigned_names
from ..config import CourseConfig
from ..errors import CourseError
from ..formatting import plural
from ..lessons import lesson_files, lesson_number
from ..setup_cell import setup_cell_source
from .naming import slugify
from .readme import MARKERS_FIX, readme_with_table, stale_colab_links, table_span


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the repo: where, what, and how to fix it."""

    path: str
    message: str
    fix: str
    fixable: bool = False  # `course sync` fixes it

    def __str__(self) -> str:
        return f"{self.path}: {self.message}; fix: {self.fix}"


SYNC = "run `course sync`"


class Course:
    """The repository under check; each notebook is read once and shared by every check."""

    def __init__(self, root: Path, config: CourseConfig):
        self.root, self.config = root, config
        self._read: dict[Path, tuple[dict | None, str | None]] = {}

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    @cached_property
    def duplicates(self) -> list[Path]:
        """Google Drive sync copies (``x (1).py``) where a teacher edits files; data/ and build/ are left out."""

        found = [path for path in self.root.iterdir() if path.is_file() and drive.original_of(path) is not None]
        for folder in ("lessons", "snippets", "src", "tests"):
            if (self.root / folder).is_dir():
                found += drive.duplicates(self.root / folder)
        return sorted(found)

    @cached_property
    def lessons(self) -> list[Path]:
        """Every lesson, well named or not."""
        return lesson_files(self.root)

    @cached_property
    def student_lessons(self) -> list[Path]:
        """The student versions `course assign` wrote (``exercises``)."""
        from ..exercises import STUDENT_FOLDER

        return sorted((self.root / STUDENT_FOLDER / "lessons").glob("*.ipynb"))

    @cached_property
    def notebooks(self) -> list[Path]:
        folder = self.root / "snippets"
        snippets = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
        return self.lessons + [p for p in snippets if p not in self.duplicates]

    def read(self, path: Path) -> tuple[dict | None, str | None]:
        """The notebook, or None and why it cannot be read."""
        if path not in self._read:
            try:
                self._read[path] = (notebooks.read_notebook(path), None)
            except notebooks.NotebookError as error:
                self._read[path] = (None, error.reason)
        return self._read[path]

    def notebook(self, path: Path) -> dict | None:
        return self.read(path)[0]


def check_lesson_names(course: Course) -> list[Problem]:
    """Lessons are ``NN_slug.ipynb`` with numbers that run without gaps or repeats."""
    problems, by_number = [], {}
    for path in course.lessons:
        number = lesson_number(path)
        if number is not None:
            by_number.setdefault(number, []).append(path)
            continue
        number = re.match(r"\d+", path.stem)
        wanted = (
            f"{int(number.group()):02d}_{slugify(path.stem[number.end() :])}" if number else f"NN_{slugify(path.stem)}"
        )
        problems.append(
            Problem(
                course.rel(path),
                "lesson file name is not NN_slug.ipynb (two digits, lowercase ASCII, underscores)",
                f"rename it with `git mv {shlex.quote(course.rel(path))} lessons/{wanted}.ipynb`, then {SYNC}",
            )
        )
    for number, paths in sorted(by_number.items()):
        if len(paths) > 1:
            names = ", ".join(p.name for p in paths)
            problems.append(
                Problem(
                    "lessons/",
                    f"lesson number {number:02d} is used by {plural(len(paths), 'lesson')} ({names})",
                    f"give each its own number with `git mv`, then {SYNC}",
                )
            )
    if by_number:
        missing = sorted(set(range(min(by_number), max(by_number) + 1)) - set(by_number))
        if missing:
            problems.append(
                Problem(
                    "lessons/",
                    "lesson numbers skip " + ", ".join(f"{n:02d}" for n in missing),
                    f"renumber the lessons after the gap with `git mv`, then {SYNC}",
                )
            )
    return problems


def check_notebooks_valid(course: Course) -> list[Problem]:
    """Every notebook parses and passes nbformat's schema validation."""
    import nbformat
    from nbformat.validator import ValidationError

    problems = []
    for path in course.notebooks:
        notebook, error = course.read(path)
        if notebook is None:
            problems.append(
                Problem(
                    course.rel(path),
                    f"cannot read the notebook: {error}",
                    f"restore it with `git checkout -- {shlex.quote(course.rel(path))}` or repair the JSON",
                )
            )
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                nbformat.validate(copy.deepcopy(notebook))
        except ValidationError as invalid:
            where = "/".join(map(str, invalid.absolute_path)) or "top level"
            reason = str(invalid.message).splitlines()[0][:160]
            problems.append(
                Problem(
                    course.rel(path),
                    f"invalid nbformat at {where}: {reason}",
                    "open it in Jupyter or Colab and save it again, or repair that field",
                )
            )
    return problems


def stripout_command(root: Path) -> tuple[list[str], re.Pattern]:
    """The nbstripout hook of ``.pre-commit-config.yaml``: its command (flags included) and its ``files`` pattern.

    `course check` verifies with exactly what pre-commit would run, so the two never disagree.
    """
    import yaml

    config = root / ".pre-commit-config.yaml"
    try:
        repos = yaml.safe_load(config.read_text(encoding="utf-8"))["repos"]
        (hook,) = [hook for repo in repos for hook in repo.get("hooks", []) if hook.get("id") == "nbstripout"]
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError):
        raise CourseError(
            f"{config.name} has no nbstripout hook: restore the file from the template (it strips notebook outputs)"
        ) from None
    return shlex.split(hook["entry"]), re.compile(hook.get("files", r"\.ipynb$"))


def stripout(root: Path, paths: list[Path], *, verify: bool) -> set[Path]:
    """Run the hook's nbstripout on ``paths`` (``--verify``: change nothing); the paths it (would have) stripped."""
    command, _ = stripout_command(root)
    program = [sys.executable, *command[command.index("python") + 1 :]] if "python" in command else command
    done = subprocess.run(
        [*program, *(["--verify"] if verify else []), *map(str, paths)], capture_output=True, text=True
    )
    if not verify:
        return set(paths) if done.returncode == 0 else set()
    return {
        Path(line.removeprefix("Dry run: would have stripped ").strip())
        for line in done.stdout.splitlines()
        if line.startswith("Dry run: would have stripped ")
    }


def stripped_notebooks(course: Course) -> list[Path]:
    """The notebooks the nbstripout hook covers (``files`` of the hook), readable ones only."""
    _, pattern = stripout_command(course.root)
    return [path for path in course.notebooks if pattern.search(course.rel(path)) and course.notebook(path) is not None]


def check_outputs(course: Course) -> list[Problem]:
    """Notebooks are committed as nbstripout leaves them (no outputs, counts, widget state or timings):
    the hook's own ``--verify``, with the hook's flags."""
    try:
        chosen = stripped_notebooks(course)
    except CourseError as missing:
        return [Problem(".pre-commit-config.yaml", str(missing).split(": ", 1)[0], "restore it from the template")]
    dirty = stripout(course.root, chosen, verify=True) if chosen else set()
    return [
        Problem(
            course.rel(path),
            "outputs, execution counts or run metadata committed (nbstripout would strip them)",
            f"{SYNC} (or `nbstripout {shlex.quote(course.rel(path))}`)",
            fixable=True,
        )
        for path in chosen
        if path in dirty or path.resolve() in dirty
    ]


def papermill_leftovers(notebook: dict) -> list[str]:
    """What an executed copy brings back: cells papermill injected, its run metadata."""
    found = []
    cells = notebooks.cells(notebook)
    injected = [str(i) for i, cell in enumerate(cells, 1) if notebooks.has_tag(cell, notebooks.INJECTED_TAG)]
    if injected:
        found.append(f"papermill's injected-parameters cell (cell {', '.join(injected)})")
    metadata = notebook.get("metadata")
    if (isinstance(metadata, dict) and "papermill" in metadata) or any(
        isinstance(cell.get("metadata"), dict) and "papermill" in cell["metadata"] for cell in cells
    ):
        found.append("papermill's run metadata")
    return found


def check_papermill_leftovers(course: Course) -> list[Problem]:
    """A lesson is the teacher's source, not an executed copy: an injected `smoke = True` would ship."""
    problems = []
    for path in course.lessons:
        notebook = course.notebook(path)
        leftovers = papermill_leftovers(notebook) if notebook is not None else []
        if leftovers:
            problems.append(
                Problem(course.rel(path), f"an executed copy: it holds {' and '.join(leftovers)}", SYNC, fixable=True)
            )
    return problems


def rewritable(notebook: dict | None) -> bool:
    """A v4 notebook whose cells are all objects: safe to normalise and save again."""
    if notebook is None or notebook.get("nbformat") != 4:
        return False
    cells = notebook.get("cells")
    return isinstance(cells, list) and all(isinstance(cell, dict) for cell in cells)


def check_format(course: Course) -> list[Problem]:
    """Notebooks are nbformat 4.5 (cell ids) saved as Jupyter saves them, so edits give small diffs."""
    problems = []
    for path in course.notebooks:
        notebook = course.notebook(path)
        if not rewritable(notebook):
            continue
        if notebook.get("nbformat_minor", 0) < 5:
            message = f"saved as nbformat 4.{notebook.get('nbformat_minor', 0)}, without cell ids (Colab does that)"
        elif path.read_bytes() != notebooks.notebook_bytes(notebook):
            message = "not saved in the canonical format (Jupyter's: sorted keys, one-space indent)"
        else:
            continue
        problems.append(Problem(course.rel(path), message, SYNC, fixable=True))
    return problems


def check_setup_cells(course: Course) -> list[Problem]:
    """Every lesson starts with the canonical setup cell, so it runs the same in Colab, Kaggle and CI."""
    canonical = setup_cell_source(course.config)
    problems = []
    for path in course.lessons:
        notebook = course.notebook(path)
        if notebook is None:
            continue
        cells = notebooks.cells(notebook)
        first = cells[0] if cells else {}
        if first.get("cell_type") != "code" or not notebooks.has_tag(first, notebooks.SETUP_TAG):
            message = f"the first cell is not the code cell tagged `{notebooks.SETUP_TAG}`"
        elif notebooks.cell_source(first) != canonical:
            message = "the setup cell differs from the canonical one"
        else:
            continue
        problems.append(Problem(course.rel(path), message, SYNC, fixable=True))
    return problems


REQUIRED_PARAMETERS = ("smoke", "epochs", "batch_size", "seed", "device")


def check_parameters_cells(course: Course) -> list[Problem]:
    """Every lesson has a papermill `parameters` cell with the names the harness sets, valid SMOKE and
    ALLOWED declarations, and no later cell that changes a parameter (a run must record what ran)."""
    tag, problems = notebooks.PARAMETERS_TAG, []
    for path in course.lessons:
        notebook = course.notebook(path)
        if notebook is None:
            continue
        cell = notebooks.parameters_cell(notebook)
        if cell is not None and cell.get("cell_type") != "code":
            message, fix = parameters.NOT_CODE.split(": ", 1)
            problems.append(Problem(course.rel(path), message, fix))
            continue
        if cell is None:
            wanted = ", ".join(f"{name} = ..." for name in REQUIRED_PARAMETERS)
            problems.append(
                Problem(
                    course.rel(path), f"no code cell tagged `{tag}`", f"add one after the setup cell defining {wanted}"
                )
            )
            continue
        try:
            declared = parameters.parse_cell(notebooks.cell_source(cell))
        except SyntaxError as error:
            problems.append(
                Problem(
                    course.rel(path),
                    f"the `{tag}` cell is not valid Python ({error.msg})",
                    "fix its syntax: one `name = value` per line",
                )
            )
            continue
        except CourseError as error:
            problems.append(
                Problem(
                    course.rel(path), f"in the `{tag}` cell, {error}", "fix it (see docs/package.md: parameters.py)"
                )
            )
            continue
        missing = [name for name in REQUIRED_PARAMETERS if name not in declared.defaults]
        if missing:
            problems.append(
                Problem(
                    course.rel(path),
                    f"the `{tag}` cell does not set {', '.join(missing)}",
                    f"add {', '.join(f'{n} = ...' for n in missing)} to it",
                )
            )
        problems += [
            Problem(
                course.rel(path),
                f"cell {number} assigns the parameter {name}: a run would record a value the lesson did not use",
                f"put the values of smoke runs in {parameters.SMOKE} in the `{tag}` cell, and give a derived value "
                "a name of its own",
            )
            for number, name in reassigned_parameters(notebook, set(declared.defaults))
        ]
    return problems


def reassigned_parameters(notebook: dict, names: set[str]) -> list[tuple[int, str]]:
    """``(cell number, name)`` for each top-level assignment to a parameter after the `parameters` cell."""
    found, after = [], False
    for number, cell in enumerate(notebooks.cells(notebook), 1):
        if cell.get("cell_type") != "code" or notebooks.has_tag(cell, notebooks.INJECTED_TAG):
            continue
        if notebooks.has_tag(cell, notebooks.PARAMETERS_TAG):
            after = True
            continue
        if after:
            assigned = assigned_names(notebooks.cell_source(cell))
            found += [(number, name) for name in dict.fromkeys(assigned) if name in names]
    return found


REQUIRED_METADATA = ("colab", "kernelspec")


def missing_metadata(notebook: dict) -> list[str]:
    metadata = notebook.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    return [key for key in REQUIRED_METADATA if not isinstance(metadata.get(key), dict)]


def check_colab_metadata(course: Course) -> list[Problem]:
    """Lessons carry Colab metadata and a python3 kernelspec, so they open right in Colab."""
    problems = []
    for path in course.lessons:
        notebook = course.notebook(path)
        missing = missing_metadata(notebook) if notebook is not None else []
        if missing:
            problems.append(
                Problem(course.rel(path), f"notebook metadata lacks {', '.join(missing)}", SYNC, fixable=True)
            )
    return problems


def check_readme(course: Course) -> list[Problem]:
    """The README lists exactly the lessons in lessons/, and its Colab badges and links open this repository."""
    readme = course.root / "README.md"
    if not readme.is_file():
        return [Problem("README.md", "the file is missing", "restore it with `git checkout -- README.md`")]
    if table_span(readme.read_text(encoding="utf-8")) is None:
        return [Problem("README.md", "no lesson table markers", f"{MARKERS_FIX}, then {SYNC}")]
    current, wanted = readme_with_table(course.root, course.config)
    problems = []
    if current != wanted:
        problems.append(Problem("README.md", "the lesson table is out of date with lessons/", SYNC, fixable=True))
    start, end = table_span(current)
    for link, fixed in stale_colab_links(course.root, course.config, current[:start] + current[end:]).items():
        message = f"Colab link {link} does not open a notebook of this repository"
        if fixed:
            problems.append(Problem("README.md", message, f"{SYNC} (it becomes {fixed})", fixable=True))
        else:
            problems.append(Problem("README.md", message, "point it at a notebook that exists here, or remove it"))
    return problems


def check_drive_duplicates(course: Course) -> list[Problem]:
    """Google Drive sync copies (``utils (1).py``) hide edits: the original is what gets imported and run;
    a copy alone is imported by nothing."""
    problems = []
    for path in course.duplicates:
        original = drive.original_of(path)
        if original.is_file():
            problem = Problem(
                course.rel(path),
                f"Google Drive duplicate of {original.name}",
                f"move any edits you want to keep into {original.name}, then delete this copy",
            )
        else:
            problem = Problem(
                course.rel(path),
                f"a Google Drive copy's name, with no {original.name} beside it: nothing imports or opens it",
                f"rename it: git mv '{course.rel(path)}' '{course.rel(original)}'",
            )
        problems.append(problem)
    return problems


def check_secrets(course: Course) -> list[Problem]:
    """Tokens and keys must never be committed: every file git would commit is searched (``secrets``)."""
    from . import secrets

    found: dict[tuple[Path, str], list[str]] = {}
    for path, where, kind in secrets.scan(secrets.course_files(course.root)):
        kinds = found.setdefault((path, where), [])
        if kind.lower() not in map(str.lower, kinds):  # two detectors naming one secret: say it once
            kinds.append(kind)
    problems = [
        Problem(
            course.rel(path),
            f"{where} contains what looks like a secret ({', '.join(kinds)})",
            "delete it, revoke it with its provider, and read it at run time from Colab secrets "
            "(google.colab.userdata.get) or an environment variable",
        )
        for (path, where), kinds in found.items()
    ]
    if importlib.util.find_spec("detect_secrets") is None:
        problems.append(
            Problem(
                ".",
                "detect-secrets is not installed, so only the course's own rules looked for secrets",
                "install the course's tools: pip install -e '.[dev]'",
            )
        )
    return problems


def check_exercises(course: Course) -> list[Problem]:
    """Student versions current and free of solutions and hidden tests (``exercises.leaks``)."""
    from ..exercises.leaks import exercise_problems

    fix = "run `course assign` (it rewrites student/ from the lessons; `course sync` does too, with otter-grader)"
    return [Problem(path, message, fix) for path, message in exercise_problems(course.root, course.lessons)]


def check_bands(course: Course) -> list[Problem]:
    """``lesson-bands.json`` reads, and each band was recorded with the parameters its lesson runs with now (a band
    recorded before ``SMOKE`` or a default changed would fail every run: `course test` calls it stale)."""
    from ..band_check import stale_parameters
    from ..metric_bands import BANDS_FILE, BandFileError, read_bands

    try:
        bands = read_bands(course.root)
    except BandFileError as error:
        return [Problem(BANDS_FILE, f"cannot be used: {error.what}", error.fix)]
    lessons = {path.stem: path for path in course.lessons}
    problems = []
    for (lesson, key), band in sorted(bands.items()):
        mode = key.partition("-")[0]
        if lesson not in lessons:
            problems.append(
                Problem(BANDS_FILE, f"{lesson} {key}: no such lesson", "delete its entry, or record it again")
            )
            continue
        try:
            declared = parameters.of_lesson(lessons[lesson])
        except CourseError:  # check_parameters_cells says why
            continue
        values = {**declared.defaults, **declared.run_values({}, smoke=mode == "smoke")}
        differing = stale_parameters(band, values)
        if differing:
            problems.append(
                Problem(
                    BANDS_FILE,
                    f"{lesson} {key} was recorded with other parameters than the lesson has now: {differing}",
                    f"course bands record {lesson}{' --full' if mode == 'full' else ''}",
                )
            )
    return problems


CHECKS = (
    check_lesson_names,
    check_notebooks_valid,
    check_outputs,
    check_papermill_leftovers,
    check_format,
    check_setup_cells,
    check_parameters_cells,
    check_colab_metadata,
    check_readme,
    check_drive_duplicates,
    check_secrets,
    check_exercises,
    check_bands,
)


def find_problems(root: Path, config: CourseConfig) -> list[Problem]:
    course = Course(root, config)
    return [problem for check in CHECKS for problem in check(course)]
