"""`course report merge DIR...`: the reports of shard jobs (each DIR holds a shard's report.json,
report.md and executed/) merged into ``build/`` as if one job had run every lesson.

The merged report is written whatever the shards say, so a CI summary shows every lesson; the merge
then fails, naming them, when a lesson of the course is in no shard, a lesson is in two, a DIR has no
report (its shard never reported), or a shard failed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..lessons import resolve_lessons
from .job import LessonResult
from .report import read_report, write_reports


def merge_reports(root: Path, folders: list[Path]) -> tuple[list[LessonResult], list[str]]:
    """Write the merged report and executed notebooks into ``build/``; returns the rows and the problems."""
    build = root / "build"
    found: dict[str, tuple[LessonResult, Path]] = {}
    problems, options, environment = [], {}, {}
    for folder in folders:
        report = read_report(folder / "report.json")
        if report is None:
            problems.append(f"{folder}: no readable report.json: that shard never reported (see its job's log)")
            continue
        options = options or report.options
        environment = environment or report.environment
        ran = [result for result in report.results if result.lesson not in report.earlier]
        for result in ran:
            if result.lesson in found:
                problems.append(f"{result.lesson} is in two shards: {found[result.lesson][1]} and {folder}")
                continue
            found[result.lesson] = (result, folder)
        failed = [result.lesson for result in ran if result.status not in ("passed", "cached")]
        if failed:
            problems.append(f"{folder}: its shard failed ({', '.join(failed)})")
    order = [lesson.stem for lesson in resolve_lessons(root, [])]
    problems += [f"{name} is in no shard's report" for name in order if name not in found]
    results = [found[name][0] for name in order if name in found]
    results += [found[name][0] for name in sorted(found) if name not in order]  # a lesson since removed
    for result in results:
        executed = found[result.lesson][1] / "executed" / f"{result.lesson}.ipynb"
        if executed.is_file():
            target = build / "executed" / executed.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(executed, target)
            result.executed_notebook = target
    merged_options = {
        **options,
        "shard": None,
        "lessons": [result.lesson for result in results],
        "merged": len(folders),
    }
    write_reports(build, results, options=merged_options, environment=environment)
    return results, problems
