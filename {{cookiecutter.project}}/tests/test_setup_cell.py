"""The lessons' setup cell in a simulated Colab, run in one real kernel.

Colab is simulated by a fake `google.colab` package on the kernel's path (``testing.write_fake_colab``);
the course is cloned from a bare git repository of this course (`COURSE_REPO_URL=file://...`).
IPython's autoreload is made unavailable in the kernel, as it is in Colab (IPython 7.34 on Python
3.12 and later). Everything else is real: git, the kernel, IPython, the files on "Drive".
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from colab_course_tools.config import load_config
from colab_course_tools.setup_cell import setup_cell_source
from colab_course_tools.testing import edit_notebook, git, write_fake_colab
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from conftest import PACKAGE, ROOT

# The tests share one simulated Colab session (the `colab` fixture): one worker runs them all.
pytestmark = pytest.mark.xdist_group("colab")
CONFIG = load_config(ROOT)
SETUP_CELL = setup_cell_source(CONFIG)  # what every lesson starts with (test_lesson_files checks that)
NOT_COURSE_FILES = shutil.ignore_patterns(
    ".git", ".venv", "data", "build", "checkpoints", "__pycache__", ".pytest_cache", "*.egg-info", ".ipynb_checkpoints"
)
PROBE = """\
import json, sys
from google.colab import drive as fake_drive
print(json.dumps(dict(module=course.__file__, src_entries=sys.path.count(str(root / "src")),
                      mounts=len(fake_drive.MOUNTS), course_root=os.environ["COURSE_ROOT"])))
"""
# Colab's IPython 7.34 autoreload imports `imp`, which Python 3.12 removed: loading it fails like this.
NO_AUTORELOAD = """\
import sys
class NoImp:
    def find_spec(self, name, path=None, target=None):
        if name in ("imp", "IPython.extensions.autoreload"):
            raise ModuleNotFoundError("No module named 'imp'", name="imp")
sys.meta_path.insert(0, NoImp())
"""


def commit_upstream(upstream: Path, message: str) -> str:
    git(upstream, "add", "-A")
    git(upstream, "commit", "-q", "-m", message)
    git(upstream, "push", "-q", "origin", CONFIG.branch)
    return git(upstream, "rev-parse", "HEAD")


def stdout_of(cell) -> str:
    return "".join(output.get("text", "") for output in cell.outputs if output.get("name") == "stdout")


def start_kernel(tmp: Path, env: dict) -> KernelManager:
    """A kernel of this interpreter, whatever kernels Jupyter has registered."""
    spec = tmp / "kernels" / "course-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "course test",
                "language": "python",
            }
        )
    )
    return KernelManager(
        kernel_name="course-test", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec.parent)])
    )


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COURSE_", "KAGGLE_", "PYTHONPATH"))}
    return {**env, **extra}


def run_setup_cell_in_python(cwd: Path, env: dict) -> subprocess.CompletedProcess:
    """The setup cell as a plain script: enough for what happens before the course loads."""
    return subprocess.run(
        [sys.executable, "-c", SETUP_CELL], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def add_cell(source: str):
    return lambda notebook: notebook["cells"].append(
        {"cell_type": "markdown", "id": f"added-{abs(hash(source))}", "metadata": {}, "source": source}
    )


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """Run the setup cell several times in one simulated-Colab kernel, changing things in between."""
    tmp = tmp_path_factory.mktemp("colab")
    upstream = tmp / "upstream"  # the teacher's working copy
    shutil.copytree(ROOT, upstream, ignore=NOT_COURSE_FILES)
    git(upstream, "init", "-q", "-b", CONFIG.branch)
    remote = tmp / "remote.git"
    git(tmp, "init", "-q", "--bare", "-b", CONFIG.branch, str(remote))
    git(upstream, "remote", "add", "origin", remote.as_uri())
    news = Path("src") / PACKAGE / "news.py"
    (upstream / news).write_text('def headline():\n    return "v1"\n')
    first_commit = commit_upstream(upstream, "Course")

    content = tmp / "content"
    content.mkdir()
    mount = tmp / "drive"
    clone = mount / "MyDrive" / CONFIG.drive_folder
    env = clean_env(
        PYTHONPATH=str(write_fake_colab(tmp / "fake-colab")),
        COURSE_DRIVE_MOUNT=str(mount),
        COURSE_REPO_URL=remote.as_uri(),
    )
    cells = {
        "no_autoreload": nbformat.v4.new_code_cell(NO_AUTORELOAD),
        "setup": nbformat.v4.new_code_cell(SETUP_CELL),
        "probe": nbformat.v4.new_code_cell(PROBE),
        "news": nbformat.v4.new_code_cell(f"from {PACKAGE} import news\nprint(news.headline())"),
        "error": nbformat.v4.new_code_cell('raise course.CourseError("no data yet: run the download cell first")'),
    }
    nb = nbformat.v4.new_notebook(cells=list(cells.values()))
    client = NotebookClient(nb, km=start_kernel(tmp, env), timeout=180, resources={"metadata": {"path": str(content)}})
    seen = SimpleNamespace(clone=clone, first_commit=first_commit, news=news)

    def run(name):
        cell = cells[name]
        cell.outputs = []
        client.execute_cell(cell, list(cells).index(name))
        return stdout_of(cell)

    def student_edits(path: Path, text: str):
        with open(clone / path, "a", encoding="utf-8") as file:
            file.write(text)

    with client.setup_kernel(env=env):
        run("no_autoreload")
        seen.first_setup = run("setup")
        seen.first_head = git(clone, "rev-parse", "HEAD")
        seen.first_probe = json.loads(run("probe"))
        seen.news_first = run("news").strip()

        # 2. The teacher adds a module; the student has notes in the README and a cell in lesson 00.
        (upstream / "src" / PACKAGE / "extra.py").write_text("VALUE = 1\n")
        seen.second_commit = commit_upstream(upstream, "Add extra")
        student_edits(Path("README.md"), "\nmy own notes\n")
        edit_notebook(clone / "lessons" / "00_environment.ipynb", add_cell("my notes on lesson 00"))
        seen.second_setup = run("setup")
        seen.second_head = git(clone, "rev-parse", "HEAD")
        seen.readme_second = (clone / "README.md").read_text(encoding="utf-8")
        seen.second_probe = json.loads(run("probe"))

        # 3. The student edits course code: the next cell uses it, with no restart and no autoreload.
        student_news = clone / news
        student_news.write_text('def headline():\n    return "edited by the student"\n')
        later = time.time() + 5
        os.utime(student_news, (later, later))
        seen.news_after_edit = run("news").strip()

        # 4. The teacher changes that module, the README and lesson 01, which the student edited too;
        #    a runtime reset had left git's index lock behind.
        (upstream / news).write_text('def headline():\n    return "v2"\n')
        (upstream / "README.md").write_text("rewritten by the teacher\n")
        edit_notebook(upstream / "lessons" / "01_first_model.ipynb", add_cell("the teacher's addition"))
        seen.third_commit = commit_upstream(upstream, "Rewrite README, news v2, lesson 01")
        edit_notebook(clone / "lessons" / "01_first_model.ipynb", add_cell("the student's own cell"))
        seen.student_lesson = (clone / "lessons" / "01_first_model.ipynb").read_bytes()
        (clone / ".git" / "index.lock").write_text("")
        seen.third_setup = run("setup")
        seen.news_after_update = run("news").strip()  # the same setup cell reloaded the module
        seen.third_head = git(clone, "rev-parse", "HEAD")
        seen.third_probe = json.loads(run("probe"))
        seen.readme = (clone / "README.md").read_text(encoding="utf-8")
        seen.readme_copy = (clone / "README.mine.md").read_text(encoding="utf-8")
        seen.news_copy = (clone / news.with_name("news.mine.py")).read_text(encoding="utf-8")
        seen.lesson = (clone / "lessons" / "01_first_model.ipynb").read_bytes()
        seen.lesson_copy = (clone / "lessons" / "01_first_model.mine.ipynb").read_bytes()
        seen.upstream_lesson = (upstream / "lessons" / "01_first_model.ipynb").read_bytes()
        seen.lesson_00 = (clone / "lessons" / "00_environment.ipynb").read_text(encoding="utf-8")

        # 5. The student commits their work; the teacher commits something else: both are kept.
        git(clone, "add", "lessons/00_environment.ipynb")
        git(clone, "commit", "-q", "-m", "My notes")
        seen.student_commit = git(clone, "rev-parse", "HEAD")
        (upstream / "src" / PACKAGE / "extra.py").write_text("VALUE = 2\n")
        seen.fourth_commit = commit_upstream(upstream, "Extra value 2")
        seen.fourth_setup = run("setup")
        seen.fourth_head = git(clone, "rev-parse", "HEAD")
        seen.branches = git(clone, "branch", "--format=%(refname:short) %(objectname)")
        seen.lesson_00_after = (clone / "lessons" / "00_environment.ipynb").read_text(encoding="utf-8")
        seen.stashes = git(clone, "stash", "list")

        with pytest.raises(CellExecutionError):
            run("error")
        seen.error_outputs = [output for output in cells["error"].outputs if output["output_type"] == "error"]
    return seen


def test_first_run_mounts_drive_and_clones_the_course(colab):
    assert colab.first_head == colab.first_commit
    assert (colab.clone / "pyproject.toml").is_file()
    assert colab.first_probe["mounts"] == 1
    assert Path(colab.first_probe["module"]).is_relative_to(colab.clone / "src"), "the course must load from Drive"
    assert colab.first_probe["course_root"] == str(colab.clone.resolve())


def test_setup_prints_one_status_line_and_where_to_keep_work(colab):
    lines = colab.first_setup.strip().splitlines()
    assert len(lines) == 2, colab.first_setup
    assert lines[0].startswith("Course ready · colab · ")
    assert f"repo {colab.clone.resolve()}" in lines[0] and " GB RAM · " in lines[0]
    assert lines[1].startswith(f"Your lessons are in {colab.clone.resolve() / 'lessons'} on Google Drive")
    assert "a lesson opened from its badge on GitHub is a view that keeps nothing" in lines[1]
    assert "Your lessons are in" not in colab.second_setup, "the hint comes once per kernel"


def test_an_update_arrives_and_the_students_own_edits_stay(colab):
    assert colab.second_head == colab.second_commit
    assert colab.second_setup.startswith("Course updated (1 file changed).\n"), colab.second_setup
    assert "my own notes" in colab.readme_second
    assert "my notes on lesson 00" in colab.lesson_00, "a lesson only the student changed keeps their edit"


def test_rerun_mounts_once_and_adds_src_to_sys_path_once(colab):
    for probe in (colab.first_probe, colab.second_probe, colab.third_probe):
        assert probe["src_entries"] == 1
    assert colab.third_probe["mounts"] == 1


def test_edits_to_src_take_effect_without_restart_or_autoreload(colab):
    assert colab.news_first == "v1"
    assert colab.news_after_edit == "edited by the student"


def test_an_update_to_loaded_code_takes_effect_in_the_same_cell(colab):
    assert colab.third_head == colab.third_commit
    assert colab.news_after_update == "v2"


def test_files_both_changed_get_the_new_version_and_the_students_copy_is_kept(colab):
    assert colab.lesson == colab.upstream_lesson, "the course's new version of the lesson is in place"
    assert colab.lesson_copy == colab.student_lesson, "the student's version is kept, byte for byte"
    assert colab.readme == "rewritten by the teacher\n" and "my own notes" in colab.readme_copy
    assert "edited by the student" in colab.news_copy
    (line,) = [line for line in colab.third_setup.splitlines() if line.startswith("Course updated")]
    for original, copy in (
        ("lessons/01_first_model.ipynb", "lessons/01_first_model.mine.ipynb"),
        ("README.md", "README.mine.md"),
        (colab.news.as_posix(), colab.news.with_name("news.mine.py").as_posix()),
    ):
        assert f"{original} -> {copy}" in line
    assert "the course's new versions are in their places" in line


def test_a_stale_index_lock_is_removed_with_a_line(colab):
    assert colab.third_setup.splitlines()[0].startswith("Removed .git/index.lock, left behind by a git command")
    assert not (colab.clone / ".git" / "index.lock").exists()


def test_the_students_commits_are_kept_on_a_branch_and_their_files_stay(colab):
    assert colab.fourth_head == colab.fourth_commit
    backups = [line.split() for line in colab.branches.splitlines() if line.startswith("my-work-")]
    assert [commit for _, commit in backups] == [colab.student_commit]
    assert f"your commits are on branch {backups[0][0]}" in colab.fourth_setup
    assert "my notes on lesson 00" in colab.lesson_00_after
    assert colab.stashes == "", "the stash used during the update is dropped once the edits are back"


def test_course_error_shows_as_one_line(colab):
    (error,) = colab.error_outputs
    assert error["ename"] == "CourseError"
    assert len(error["traceback"]) == 1
    assert "no data yet: run the download cell first" in error["traceback"][0]


def test_clone_failure_says_why_in_two_lines(tmp_path):
    env = clean_env(
        PYTHONPATH=str(write_fake_colab(tmp_path / "fake-colab")),
        COURSE_DRIVE_MOUNT=str(tmp_path / "drive"),
        COURSE_REPO_URL=(tmp_path / "no-such-repo.git").as_uri(),
    )
    done = run_setup_cell_in_python(tmp_path, env)
    assert done.returncode == 1
    assert done.stdout.startswith("Could not copy the course: fatal:"), done.stdout
    assert done.stderr.strip().splitlines() == [
        f"No course code in {tmp_path / 'drive' / 'MyDrive' / CONFIG.drive_folder}: see git's message above"
    ]


def test_wrong_course_root_is_one_line(tmp_path):
    done = run_setup_cell_in_python(tmp_path, clean_env(COURSE_ROOT=str(tmp_path / "elsewhere")))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"No course code in {tmp_path / 'elsewhere'}: open the notebook inside the course folder, or set COURSE_ROOT to it"
    ]


# -- Drive failures and Kaggle, the setup cell as a plain script -------------------------------------


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    """A bare git repository of this course, as `COURSE_REPO_URL` sees it."""
    tmp = tmp_path_factory.mktemp("remote")
    upstream = tmp / "upstream"
    shutil.copytree(ROOT, upstream, ignore=NOT_COURSE_FILES)
    git(upstream, "init", "-q", "-b", CONFIG.branch)
    bare = tmp / "remote.git"
    git(tmp, "init", "-q", "--bare", "-b", CONFIG.branch, str(bare))
    git(upstream, "remote", "add", "origin", bare.as_uri())
    commit_upstream(upstream, "Course")
    return bare.as_uri()


SHOW_MOUNTS = "\nfrom google.colab import drive as fake_drive\nprint('mount calls:', fake_drive.MOUNTS)"


def colab_env(tmp_path, remote, **extra):
    return clean_env(
        PYTHONPATH=str(write_fake_colab(tmp_path / "fake-colab")),
        COURSE_DRIVE_MOUNT=str(tmp_path / "content" / "drive"),
        COURSE_REPO_URL=remote,
        **extra,
    )


@pytest.mark.parametrize(
    "failure, reason",
    [
        ("refuse", "mount failed"),
        ("timeout", "mount failed: timeout during initial read of root folder"),
        ("credentials", "Error: credential propagation was unsuccessful"),
    ],
)
def test_drive_not_mounted_is_one_line_and_the_lesson_goes_on_without_it(tmp_path, remote, failure, reason):
    env = colab_env(tmp_path, remote, FAKE_COLAB_DRIVE=failure)
    done = subprocess.run(
        [sys.executable, "-c", SETUP_CELL], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith(f"Google Drive is not mounted ({reason}")
    assert lines[0].endswith("this runtime's disk is used instead. Run this cell again to retry.")
    local = tmp_path / "content" / CONFIG.github_repo
    assert lines[1].startswith("Course ready · colab · ") and f"repo {local}" in lines[1]
    assert lines[2].startswith("Warning: the course is on this runtime's disk, not on Google Drive: your edits")
    assert len(lines) == 3 and "Traceback" not in done.stderr
    assert (local / "pyproject.toml").is_file()


def test_a_dropped_drive_mount_is_mounted_again(tmp_path, remote):
    mount = tmp_path / "content" / "drive"
    (mount / "MyDrive").mkdir(parents=True)
    (mount / ".dropped").write_text("")  # "Transport endpoint is not connected" until remounted
    env = colab_env(tmp_path, remote)
    done = subprocess.run(
        [sys.executable, "-c", SETUP_CELL + SHOW_MOUNTS], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert f"mount calls: [('{mount}', True)]" in done.stdout
    assert f"repo {mount / 'MyDrive' / CONFIG.drive_folder}" in done.stdout


def test_kaggle_is_kaggle_even_where_google_colab_imports(tmp_path, remote):
    working = tmp_path / "kaggle" / "working"
    env = colab_env(
        tmp_path,
        remote,
        KAGGLE_KERNEL_RUN_TYPE="Interactive",
        COURSE_KAGGLE_WORKING=str(working),
        FAKE_COLAB_DRIVE="refuse",
    )
    done = subprocess.run(
        [sys.executable, "-c", SETUP_CELL + SHOW_MOUNTS], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Course ready · kaggle · ") and f"repo {working / CONFIG.github_repo}" in done.stdout
    assert "mount calls: []" in done.stdout and "Google Drive" not in done.stdout


def test_kaggle_without_internet_says_which_switch_to_turn_on(tmp_path):
    env = colab_env(
        tmp_path,
        "https://github.invalid/teacher/course.git",
        KAGGLE_URL_BASE="https://www.kaggle.com",
        COURSE_KAGGLE_WORKING=str(tmp_path / "working"),
    )
    done = run_setup_cell_in_python(tmp_path, env)
    assert done.returncode == 1
    assert done.stdout.startswith("Could not copy the course: fatal:")
    assert done.stdout.rstrip().endswith("(Kaggle: turn on Settings > Internet)")
    assert done.stderr.strip().splitlines() == [
        f"No course code in {tmp_path / 'working' / CONFIG.github_repo}: see git's message above"
    ]
