"""A lesson's parameters: what a run records is what ran, and bad values fail before a kernel starts."""

import json
import re
import shutil

import nbformat
import pytest

from colab_course_tools import parameters
from colab_course_tools.errors import CourseError
from colab_course_tools.testing import lesson_notebook, tiny_course, write_notebook
from course_under_test import PACKAGE, ROOT

CELL = """\
smoke = False
epochs = 5
batch_size = 64
device = "auto"
learning_rate = 1e-2
limit = None
SMOKE = {"epochs": 1, "limit": 20}
ALLOWED = {
    "epochs": ">= 1",
    "batch_size": ">= 1",
    "learning_rate": "> 0, <= 1",
    "device": ["auto", "cpu", "cuda"],
    "limit": ">= 1",
}
"""

# Records in its metrics what the kernel really had.
SEEN = f"""\
import {PACKAGE} as course
course.metrics.log_metrics(epochs_seen=epochs, batch_size_seen=batch_size, limit_seen=limit, smoke_seen=smoke)
"""


@pytest.fixture
def course_repo(tmp_path):
    return tiny_course(tmp_path / "course", {"01_seen": lesson_notebook(SEEN, parameters=CELL)})


def run_folder(course, run_id):
    return course / "build" / "runs" / "01_seen" / run_id


def read(path):
    return json.loads(path.read_text(encoding="utf-8"))


# ---- reading a parameters cell, without running it ------------------------------------------------


def test_the_cell_gives_defaults_smoke_values_and_rules():
    declared = parameters.parse_cell(CELL + "sizes: list = [1, 2]\nroot = Path('.')\n")
    assert declared.defaults == {
        "smoke": False,
        "epochs": 5,
        "batch_size": 64,
        "device": "auto",
        "learning_rate": 1e-2,
        "limit": None,
        "sizes": [1, 2],
        "root": "Path('.')",  # not a literal: kept as its source text
    }
    assert declared.smoke == {"epochs": 1, "limit": 20}
    assert declared.allowed["device"] == ["auto", "cpu", "cuda"]


def test_values_of_a_run_smoke_values_then_the_given_ones_which_win():
    declared = parameters.parse_cell(CELL)
    assert declared.run_values({}, smoke=True) == {"smoke": True, "epochs": 1, "limit": 20}
    assert declared.run_values({"epochs": 2}, smoke=True) == {"smoke": True, "epochs": 2, "limit": 20}
    assert declared.run_values({"epochs": 2}, smoke=False) == {"smoke": False, "epochs": 2}


@pytest.mark.parametrize(
    "extra, message",
    [
        ('SMOKE = {"epoch": 1}', "SMOKE names 'epoch', which the cell does not set"),
        ("SMOKE = {'epochs': int('1')}", "SMOKE must be a dict of plain values"),
        ('SMOKE = {"epochs": 0}', "SMOKE['epochs'] = 0 breaks the lesson's own rules: epochs=0 is not allowed"),
        ('ALLOWED = {"epochs": "at least 1"}', "write comparisons with numbers"),
        ('ALLOWED = {"device": []}', "give a list of the values allowed"),
        ('ALLOWED = {"device": ["cpu", "cuda"]}', "the default device = 'auto' breaks the lesson's own rules"),
        ('SMOKE = {"batch_size": 0.5}', "batch_size=0.5 does not fit its default 64 (int)"),
    ],
)
def test_a_wrong_declaration_is_named(extra, message):
    with pytest.raises(CourseError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        parameters.parse_cell(CELL + extra + "\n")


@pytest.mark.parametrize(
    "name, value, message",
    [
        (
            "device",
            "gpu",
            "device='gpu' is not allowed: device must be one of 'auto', 'cpu', 'cuda' (did you mean 'cuda'?)",
        ),
        ("device", "CPU", "(did you mean 'cpu'?)"),
        ("device", "cdua", "(did you mean 'cuda'?)"),
        ("epochs", -1, "epochs=-1 is not allowed: epochs must be >= 1"),
        ("batch_size", 0, "batch_size=0 is not allowed: batch_size must be >= 1"),
        ("learning_rate", 0.0, "learning_rate must be > 0 and <= 1"),
        ("learning_rate", 3.0, "learning_rate must be > 0 and <= 1"),
        ("epochs", 2.5, "does not fit its default 5 (int)"),
    ],
)
def test_a_value_outside_the_rules_is_refused_with_a_hint(name, value, message):
    with pytest.raises(CourseError) as refused:
        parameters.parse_cell(CELL).check(name, value)
    assert message in str(refused.value)


def test_no_suggestion_where_nothing_is_close():
    with pytest.raises(CourseError) as refused:
        parameters.parse_cell(CELL).check("device", "tpu")
    assert "did you mean" not in str(refused.value)
    assert parameters.parse_cell(CELL).check("limit", None) is None  # None keeps its meaning: no limit


# ---- course run: recorded values are the ones the kernel used --------------------------------------


def test_a_smoke_run_takes_the_smoke_values_and_a_given_value_wins(course_repo, course_cli):
    done = course_cli("run", "1", "-p", "epochs=2", "--run-id", "given", cwd=course_repo)
    assert done.returncode == 0, done.stdout + done.stderr
    seen = read(run_folder(course_repo, "given") / "metrics.json")["latest"]
    assert (seen["epochs_seen"], seen["limit_seen"], seen["smoke_seen"]) == (2, 20, True)
    recorded = read(run_folder(course_repo, "given") / "params.json")
    assert (recorded["epochs"], recorded["limit"], recorded["smoke"]) == (2, 20, True)

    done = course_cli("run", "01_seen", "--run-id", "plain", cwd=course_repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert read(run_folder(course_repo, "plain") / "metrics.json")["latest"]["epochs_seen"] == 1
    assert read(run_folder(course_repo, "plain") / "params.json")["epochs"] == 1

    done = course_cli("run", "1", "--full", "-p", "batch_size", "8", "--run-id", "full", cwd=course_repo)
    assert done.returncode == 0, done.stdout + done.stderr
    seen = read(run_folder(course_repo, "full") / "metrics.json")["latest"]
    assert (seen["epochs_seen"], seen["batch_size_seen"], seen["limit_seen"]) == (5, 8, None)
    assert read(run_folder(course_repo, "full") / "params.json") == {
        "smoke": False,
        "epochs": 5,
        "batch_size": 8,
        "device": "auto",
        "learning_rate": 1e-2,
        "limit": None,
    }


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["run", "1", "-p", "device", "gpu"],
            "-p device gpu: device='gpu' is not allowed: device must be one of 'auto', 'cpu', 'cuda' (did you mean 'cuda'?)",
        ),
        (["run", "1", "-p", "epochs", "-1"], "-p epochs -1: epochs=-1 is not allowed: epochs must be >= 1"),
        (["run", "1", "-p", "batch_size=0"], "-p batch_size 0: batch_size=0 is not allowed: batch_size must be >= 1"),
        (
            ["run", "1", "-p", "learning_rate", "1e-3,3e-3"],
            "-p learning_rate 1e-3,3e-3: `course run` takes one value per parameter; to try each of them, "
            "run `course sweep 01_seen -p learning_rate 1e-3,3e-3`",
        ),
        (["run", "1", "-p", "device", "cpu,cuda"], "run `course sweep 01_seen -p device cpu,cuda`"),
        (["sweep", "1", "-p", "epochs", "1,0"], "-p epochs 0: epochs=0 is not allowed"),
        (["test", "1", "-p", "device=gpu"], "device='gpu' is not allowed"),
        (["run", "7"], "'7' is not a lesson: give a number, name or file of one of the lessons: 01_seen"),
        # what a newcomer typed: a misspelt lesson and a short name each get the closest guess
        (["test", "01_sene"], "'01_sene' is not a lesson (did you mean 01_seen?): give a number, name or file"),
        (
            ["test", "1", "-p", "lr", "0.1"],
            "none of the chosen lessons has a parameter 'lr' (did you mean 'learning_rate'?)",
        ),
        (["run", "1", "-p", "lr", "0.1"], "01_seen has no parameter 'lr' (did you mean 'learning_rate'?)"),
        (["sweep", "1", "-p", "bs", "8,16"], "01_seen has no parameter 'bs' (did you mean 'batch_size'?)"),
    ],
)
def test_a_bad_value_stops_before_any_kernel_with_one_line(course_repo, course_cli, args, message):
    done = course_cli(*args, cwd=course_repo)
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"course {args[0]}: error: ") and message in line
    assert not (course_repo / "build").exists(), "nothing ran, nothing was written"


def test_a_finished_run_is_done_and_force_runs_it_again(course_repo, course_cli):
    assert course_cli("run", "1", "--run-id", "once", cwd=course_repo).returncode == 0
    folder = run_folder(course_repo, "once")
    before = read(folder / "run.json")

    again = course_cli("run", "1", "--run-id", "once", cwd=course_repo)
    assert again.returncode == 0
    assert "course run: 01_seen run once passed already" in again.stdout
    assert str(folder.relative_to(course_repo) / "metrics.json") in again.stdout
    assert "to run it again from the start: course run 01_seen --run-id once --force" in again.stdout
    assert read(folder / "run.json") == before, "nothing ran"

    forced = course_cli("run", "1", "--run-id", "once", "--force", cwd=course_repo)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "--force: its results and checkpoints are replaced" in forced.stdout
    assert read(folder / "run.json")["started"] >= before["started"]
    assert read(folder / "run.json")["attempts"] == 1


def test_a_run_id_asked_for_with_other_values_names_the_differences(course_repo, course_cli):
    assert course_cli("run", "1", "-p", "epochs", "2", "--run-id", "r", cwd=course_repo).returncode == 0
    done = course_cli("run", "1", "-p", "batch_size", "8", "--full", "--run-id", "r", cwd=course_repo)
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert "run r was started with other parameters (" in line
    assert "smoke: smoke then, --full now; epochs: 2 then, the default now; batch_size: the default then, 8 now" in line
    assert "course run 01_seen -p epochs 2 --run-id r" in line


def test_a_lesson_that_changes_a_parameter_is_flagged_by_check(course_repo, course_cli):
    lesson = course_repo / "lessons" / "01_seen.ipynb"
    write_notebook(
        lesson,
        "if smoke:\n    epochs = 1\nfor batch_size in [1]:\n    pass\ndef f():\n    device = 'x'\n[limit for limit in []]",
        "!echo hi\nlearning_rate = 0.1",
        parameters=CELL,
    )
    done = course_cli("check", cwd=course_repo)
    flagged = sorted(line for line in done.stdout.splitlines() if "assigns the parameter" in line)
    assert [line.split(": ")[1].split(":")[0] for line in flagged] == [
        "cell 2 assigns the parameter batch_size",
        "cell 2 assigns the parameter epochs",
        "cell 3 assigns the parameter learning_rate",
    ]
    assert flagged[1] == (
        "lessons/01_seen.ipynb: cell 2 assigns the parameter epochs: a run would record a value the lesson did not "
        "use; fix: put the values of smoke runs in SMOKE in the `parameters` cell, and give a derived value a name "
        "of its own"
    )


def test_check_reads_cells_as_ipython_runs_them(course_repo, course_cli):
    """A magic or shell line does not hide an assignment: `%time epochs = 3` assigns epochs, and a cell
    with `files = !ls` is still read to its end (IPython's own transformer, as in Colab's IPython 7.34)."""
    lesson = course_repo / "lessons" / "01_seen.ipynb"
    write_notebook(
        lesson,
        "%time epochs = 3",
        "files = !ls\nbatch_size = 8",
        "%%time\nlearning_rate = 0.5",
        "%%bash\nepochs=4",
        "%timeit -n1 x = 1",
        parameters=CELL,
    )
    done = course_cli("check", cwd=course_repo)
    flagged = sorted(line.split(": ")[1].split(":")[0] for line in done.stdout.splitlines() if "assigns the" in line)
    assert flagged == [
        "cell 2 assigns the parameter epochs",
        "cell 3 assigns the parameter batch_size",
        "cell 4 assigns the parameter learning_rate",
    ]


def test_the_shipped_lessons_change_no_parameter_and_declare_valid_rules():
    from colab_course_tools.authoring.checks import reassigned_parameters
    from colab_course_tools.lessons import lesson_files
    from colab_course_tools.notebooks import read_notebook

    for lesson in lesson_files(ROOT):
        declared = parameters.of_lesson(lesson)
        assert declared.smoke and declared.allowed, lesson.name
        assert reassigned_parameters(read_notebook(lesson), set(declared.defaults)) == [], lesson.name


# ---- a real lesson ---------------------------------------------------------------------------------


def test_lesson_01_smoke_run_with_two_epochs_trains_and_records_two(tmp_path, course_cli):
    copy = tmp_path / "course"
    copy.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", copy)
    for folder in ("lessons", "src"):
        shutil.copytree(ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    done = course_cli("run", "1", "-p", "epochs", "2", "--run-id", "two", cwd=copy)
    assert done.returncode == 0, done.stdout + done.stderr
    folder = copy / "build" / "runs" / "01_first_model" / "two"
    assert read(folder / "params.json")["epochs"] == 2
    executed = nbformat.read(folder / "01_first_model.ipynb", as_version=4)
    tables = [
        output["data"]["text/html"]
        for cell in executed.cells
        for output in cell.get("outputs", [])
        if "text/html" in output.get("data", {}) and "<th>epoch</th>" in output["data"]["text/html"]
    ]
    assert tables, "fastai's epoch table is in the executed notebook"
    assert re.findall(r"<tr>\s*<td>(\d+)</td>", tables[-1]) == ["0", "1"], "one row per epoch trained"
