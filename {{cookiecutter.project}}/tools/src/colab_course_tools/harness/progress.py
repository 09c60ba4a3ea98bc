"""Live progress while lessons run: which cell, how long, and the last thing the lesson showed.

A worker reads its running cell's outputs (stream text, or fastai's progress table and bar,
which notebooks show as HTML) and writes a small JSON snapshot that the harness reads
(``snapshot`` and ``last_output``). ``ProgressDisplay`` shows the snapshots: on a terminal one
line, rewritten in place; in a log (CI) a plain line per running lesson every
``COURSE_PROGRESS_S`` seconds (default 30); nothing with ``--quiet``.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import sys
import threading
import time
from pathlib import Path

from ..atomic import write_json
from .outcome import number_in_lesson

LOG_EVERY_S = 30.0
REDRAW_S = 0.2
LOG_PREFIX = "  … "  # a progress line in a log: "  … <lesson>: <where it is>"
_ROW = re.compile(r"<tr[^>]*>(.*?)</tr>", re.S)
_CELL = re.compile(r"<t[hd][^>]*>(.*?)</t[hd]>", re.S)
_PROGRESS = re.compile(r"<progress([^>]*)>\s*</progress>\s*([^<]*)", re.S)
_NUMBER_ATTRIBUTE = re.compile(r"(\w+)=[\"']?(\d+)")
_TAG = re.compile(r"<[^>]+>")


# -- in the worker: what the running cell shows ------------------------------------------------------
def last_output(cell: dict) -> str:
    """One line for the latest output of a running cell: fastai's table row and bar, or printed text."""
    for output in reversed(cell.get("outputs") or []):
        data = output.get("data") or {}
        if "text/html" in data:
            line = _from_html("".join(data["text/html"]))
        elif output.get("output_type") == "stream":
            line = _last_line("".join(output.get("text") or ""))
        else:
            line = _last_line("".join(data.get("text/plain") or ""))
        if line:
            return line
    return ""


def _last_line(text: str) -> str:
    lines = [line.rsplit("\r", 1)[-1].strip() for line in text.splitlines()]  # "\r" redraws a line
    return next((line for line in reversed(lines) if line), "")


def _from_html(text: str) -> str:
    """fastai (fastprogress) in a notebook: a table, one row per finished epoch, and a progress bar."""
    parts = []
    rows = [[html.unescape(_TAG.sub("", cell)).strip() for cell in _CELL.findall(row)] for row in _ROW.findall(text)]
    if len(rows) >= 2:
        parts.append(" ".join(f"{name} {value}" for name, value in zip(rows[0], rows[-1])))
    bars = _PROGRESS.findall(text)
    if bars:
        attributes, label = bars[-1]
        numbers = dict(_NUMBER_ATTRIBUTE.findall(attributes))
        count = f" ({numbers['value']}/{numbers['max']})" if {"value", "max"} <= set(numbers) else ""
        parts.append(f"{html.unescape(label).strip()}{count}".strip())
    return " · ".join(parts) or _last_line(html.unescape(_TAG.sub("\n", text)))


class Reporter:
    """In the worker, on the watchdog's beat: writes where the lesson is (cell as numbered in the lesson,
    time, last output) when that changed, at most every ``every`` seconds."""

    def __init__(self, path: Path, numbering: tuple[int, int | None], every: float = 0.5):
        self.path, self.every = path, every
        self.cells, self.injected_at = numbering  # see outcome.cell_numbering
        self._reported = 0.0
        self._snapshot: dict | None = None

    def tick(self, now: float, watchdog) -> None:
        if now - self._reported < self.every:
            return
        self._reported = now
        index, cell = watchdog.last_cell, watchdog.running
        snapshot = {
            "cell": None if index is None else number_in_lesson(index, self.injected_at),
            "cells": self.cells,
            "elapsed": round(now - watchdog.started),
            "output": last_output(cell) if cell is not None else "",
        }
        if snapshot != self._snapshot:
            self._snapshot = snapshot
            try:
                write_json(self.path, snapshot)  # atomic: the harness never reads half a snapshot
            except OSError:  # progress is a nicety: never a reason to fail a lesson
                pass


def read_snapshot(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def describe(snapshot: dict) -> str:
    """``cell 8/20, 1m12s: epoch 1 train_loss 0.31 ...``"""
    where = f"cell {snapshot['cell']}/{snapshot['cells']}" if snapshot.get("cell") else "starting"
    text = f"{where}, {_duration(snapshot.get('elapsed', 0))}"
    return f"{text}: {snapshot['output']}" if snapshot.get("output") else text


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


# -- in the command: showing it -------------------------------------------------------------------
class ProgressDisplay:
    """What runs now, for people: one live line on a terminal, periodic lines in a log, or nothing.

    Safe to call from several threads (a sweep follows its runs from one thread each).
    """

    def __init__(self, stream=None, *, quiet: bool = False):
        self.stream = stream or sys.stdout
        self.quiet = quiet
        self.live = not quiet and self.stream.isatty()
        self.every = float(os.environ.get("COURSE_PROGRESS_S") or LOG_EVERY_S)
        self.running: dict[str, str] = {}
        self._shown = ""
        self._drawn_at = 0.0
        self._logged_at = time.monotonic()
        self._lock = threading.Lock()

    def update(self, name: str, text: str) -> None:
        """``name`` (a lesson or a run) is at ``text`` now."""
        with self._lock:
            self.running[name] = text
            now = time.monotonic()
            if self.live and now - self._drawn_at >= REDRAW_S:
                self._draw(now)
            elif not self.live and not self.quiet and now - self._logged_at >= self.every:
                self._logged_at = now
                for running, where in self.running.items():
                    self.stream.write(f"{LOG_PREFIX}{running}: {where}\n")
                self.stream.flush()

    def done(self, name: str) -> None:
        with self._lock:
            self.running.pop(name, None)
            if self.live:
                self._clear()
                if self.running:
                    self._draw(time.monotonic())

    def print(self, text: str) -> None:
        """A line of the command's own output, printed above the live line."""
        with self._lock:
            self._clear()
            self.stream.write(text + "\n")
            if self.live and self.running:
                self._draw(time.monotonic())
            self.stream.flush()

    def close(self) -> None:
        with self._lock:
            self.running.clear()
            self._clear()
            self.stream.flush()

    def _draw(self, now: float) -> None:
        self._drawn_at = now
        width = shutil.get_terminal_size((100, 20)).columns - 1
        line = " | ".join(f"{name}: {where}" for name, where in self.running.items())
        line = line if len(line) <= width else line[: width - 1] + "…"
        self.stream.write("\r\x1b[K" + line)
        self.stream.flush()
        self._shown = line

    def _clear(self) -> None:
        if self.live and self._shown:
            self.stream.write("\r\x1b[K")
            self._shown = ""
