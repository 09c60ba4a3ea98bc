"""How `course test --shard I/N` splits the lessons over N parallel jobs: by their recorded durations.

As pytest-split's ``least_duration``: the timed lessons, longest first, each onto the shard with the
least expected time so far (the lower shard on a tie); then the lessons never timed, round-robin.
The durations come from ``lesson-durations.json`` at the course's top (committed, so every CI runner
splits alike; `course test --store-durations` writes it), else from the last ``build/report.json``.
The same lessons and durations give the same split everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import read_json, write_json
from ..errors import CourseError
from .report import earlier_results

DURATIONS_FILE = "lesson-durations.json"


@dataclass
class Shard:
    number: int  # 1-based
    lessons: list[Path] = field(default_factory=list)
    seconds: float = 0.0  # expected, from the timed lessons
    untimed: int = 0


def parse_shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in text.split("/"))
        if not 1 <= index <= count:
            raise ValueError
    except ValueError:
        raise CourseError(f"--shard {text}: write I/N with 1 <= I <= N, e.g. --shard 1/2") from None
    return index, count


def recorded_durations(root: Path) -> dict[str, float]:
    """lesson -> seconds, from the committed durations file, else the last report."""
    committed = read_json(root / DURATIONS_FILE)
    if committed:
        return {name: float(seconds) for name, seconds in committed.items() if _seconds(seconds)}
    earlier = earlier_results(root / "build" / "report.json")
    return {name: result.seconds for name, result in earlier.items() if _timed(result)}


def split(lessons: list[Path], count: int, durations: dict[str, float]) -> list[Shard]:
    shards = [Shard(number) for number in range(1, count + 1)]
    timed = sorted((p for p in lessons if p.stem in durations), key=lambda p: (-durations[p.stem], p.name))
    for lesson in timed:
        lightest = min(shards, key=lambda shard: (shard.seconds, shard.number))
        lightest.lessons.append(lesson)
        lightest.seconds += durations[lesson.stem]
    for position, lesson in enumerate(p for p in lessons if p.stem not in durations):
        shard = shards[position % count]
        shard.lessons.append(lesson)
        shard.untimed += 1
    order = {lesson: index for index, lesson in enumerate(lessons)}
    for shard in shards:
        shard.lessons.sort(key=order.__getitem__)
    return shards


def select_shard(root: Path, lessons: list[Path], shard: str | None) -> list[Path]:
    """The lessons of shard ``I/N`` (all of them without ``shard``)."""
    if not shard:
        return lessons
    index, count = parse_shard(shard)
    return split(lessons, count, recorded_durations(root))[index - 1].lessons


def plan(root: Path, lessons: list[Path], count: int) -> str:
    """The split into ``count`` shards as `course test --plan` prints it."""
    if count < 1:
        raise CourseError(f"--plan {count}: give the number of shards, at least 1")
    durations = recorded_durations(root)
    lines = []
    for shard in split(lessons, count, durations):
        untimed = f" + {shard.untimed} never timed" if shard.untimed else ""
        names = ", ".join(lesson.stem for lesson in shard.lessons) or "(none)"
        lines.append(f"shard {shard.number}/{count}: {shard.seconds:.1f} s expected{untimed}: {names}")
    return "\n".join(lines)


def store_durations(root: Path, results) -> Path:
    """Write the seconds of the lessons that ran into the durations file (others keep theirs)."""
    path = root / DURATIONS_FILE
    durations = read_json(path)
    for result in results:
        if _timed(result):
            durations[result.lesson] = round(result.seconds, 1)
    write_json(path, dict(sorted(durations.items())))
    return path


def _timed(result) -> bool:
    """A result whose seconds say how long the lesson takes (not a cached or interrupted one)."""
    return result.status in ("passed", "failed", "timed out") and _seconds(result.seconds)


def _seconds(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
