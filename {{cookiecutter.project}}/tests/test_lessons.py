"""Every lesson, executed the way `course test --smoke` runs it: papermill, a fresh kernel, smoke parameters.

A failure shows the failing cell's code, the error and its traceback.
"""

from pathlib import Path

import pytest
from colab_course_tools.band_check import apply as check_band
from colab_course_tools.harness.cache import environment_key
from colab_course_tools.harness.job import LessonJob
from colab_course_tools.harness.limits import cell_limit, lesson_limit
from colab_course_tools.harness.runner import execute_lesson, run_lessons
from colab_course_tools.harness.warm_starts import cold_reason, lesson_imports, shared_imports
from colab_course_tools.lessons import lesson_files
from colab_course_tools.metric_bands import read_bands
from colab_course_tools.metrics_file import headline, read_metrics
from colab_course_tools.parameters import of_lesson

ROOT = Path(__file__).resolve().parents[1]
LESSONS = lesson_files(ROOT)


@pytest.fixture
def overrides(request):
    """Per-lesson parameters for test runs (e.g. a local data mirror), if conftest provides them."""
    try:
        return request.getfixturevalue("lesson_overrides")
    except pytest.FixtureLookupError:
        return {}


@pytest.mark.parametrize("lesson", LESSONS, ids=[path.stem for path in LESSONS])
def test_lesson_runs_in_smoke_mode_and_holds_its_band(lesson, overrides, tmp_path):
    """As `course test --smoke` runs it, its final metrics checked against lesson-bands.json as it checks them."""
    declared = of_lesson(lesson)
    assert "smoke" in declared.defaults, f"{lesson.name} has no `smoke` parameter in its cell tagged 'parameters'"
    given = overrides.get(lesson.stem, {})
    parameters = declared.run_values(given, smoke=True)
    timeout = lesson_limit(smoke=True)
    cell_timeout = cell_limit(lesson=timeout, smoke=True)
    env = {"COURSE_RUN_DIR": str(tmp_path / "run"), "COURSE_LESSON": lesson.stem}
    result = execute_lesson(
        lesson, tmp_path / lesson.name, parameters, timeout=timeout, cell_timeout=cell_timeout, env=env
    )
    assert result.device in ("cpu", "cuda"), "the in-kernel probe did not report a device"
    record = read_metrics(tmp_path / "run")
    check_band(
        result,
        record.get("latest") or {},
        headline(record)[0],
        bands=read_bands(ROOT),
        mode="smoke",
        parameters={**declared.defaults, **parameters},
        given=set(given),
        environment=environment_key(gpu=False),
        build=None,
    )
    if not result.ok:
        pytest.fail("\n".join([result.describe(), *(result.band or {}).get("changed", [])]), pytrace=False)


def test_lessons_that_share_their_imports_fork_from_one_warm_process(overrides, tmp_path):
    """As `course test --smoke -n 2` runs them: the lessons that import what they share (torch and fastai
    in this course's first lessons) fork from one process that imported it once, and still pass."""
    timeout = lesson_limit(smoke=True)
    cell_timeout = cell_limit(lesson=timeout, smoke=True)
    jobs = [
        LessonJob(
            lesson,
            tmp_path / lesson.name,
            of_lesson(lesson).run_values(overrides.get(lesson.stem, {}), smoke=True),
            timeout=timeout,
            cell_timeout=cell_timeout,
        )
        for lesson in LESSONS
    ]
    plan = {"folder": str(LESSONS[0].parent), "imports": shared_imports([lesson_imports(path) for path in LESSONS])}
    forking = [path.stem for path in LESSONS if cold_reason(path, lesson_imports(path), plan) is None]
    if len(forking) < 2:
        pytest.skip(f"no two lessons share their imports: {forking or 'none'} could fork")

    results = run_lessons(jobs, workers=2)

    failed = [result.describe() for result in results if not result.ok]
    if failed:
        pytest.fail("\n\n".join(failed), pytrace=False)
    assert [result.lesson for result in results if result.warm_start] == forking


def test_lesson_02s_try_it_works_after_the_lesson_ran_once(overrides, tmp_path):
    """ "Try a real reset" as a student meets it: the lesson ran once (its checkpoints kept, as on Drive),
    then `epochs` is raised in the parameters cell and everything runs again; it must train, not refuse."""
    (lesson,) = [path for path in LESSONS if path.stem == "02_data_and_checkpoints"]
    declared = of_lesson(lesson)
    kept = {"COURSE_CHECKPOINTS": str(tmp_path / "checkpoints")}  # the same folder for both runs
    first = declared.run_values(overrides.get(lesson.stem, {}), smoke=True)
    again = declared.run_values({**overrides.get(lesson.stem, {}), "epochs": first["epochs"] + 1}, smoke=True)
    for name, parameters in (("first", first), ("more-epochs", again)):
        result = execute_lesson(lesson, tmp_path / f"{name}.ipynb", parameters, cell_timeout=300, env=kept)
        if not result.ok:
            pytest.fail(f"{name}: {result.describe()}", pytrace=False)
    runs = sorted(path.name for path in (tmp_path / "checkpoints").iterdir() if path.name.startswith("mnist_sample"))
    assert len(runs) == 2 and f"{again['epochs']}ep" in runs[1] + runs[0], runs
