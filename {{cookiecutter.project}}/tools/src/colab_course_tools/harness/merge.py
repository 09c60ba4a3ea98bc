"""`course report merge DIR...`: the reports of shard jobs (each DIR holds a shard's report.json,
report.md and executed/) merged into ``build/`` as if one job had run every lesson.

The merged report is written whatever the shards say, so a CI summary shows every lesson; the merge
then fails, naming them, when a lesson of the course is in no shard, a lesson is in two, a DIR has no
report (its shard never reported), or a shard failed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..notebooks import resolve_lessons
from .job import LessonResult
from .report import write_reports


def merge_reports(root: Path, folders: list[Path]) -> tuple[list[LessonResult], list[str]]:
    """Write the merged report and executed notebooks into ``build/``; returns the rows and the problems."""
    build = root / "build"
    found: dict[str, tuple[LessonResult, Path]] = {}
    problems, options, environment = [], {}, {}
    for folder in folders:
        try:
            report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
            rows = [row for row in report["lessons"] if row.get("this_run", True)]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            problems.append(f"{folder}: no readable report.json: that shard never reported (see its job's log)")
            continue
        options = options or report.get("options", {})
        environment = environment or report.get("environment", {})
        for row in rows:
            result = LessonResult.from_json(row)
            if result.lesson in found:
                problems.append(f"{result.lesson} is in two shards: {found[result.lesson][1]} and {folder}")
                continue
            found[result.lesson] = (result, folder)
        failed = [row["lesson"] for row in rows if row.get("status") not in ("passed", "cached")]
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
