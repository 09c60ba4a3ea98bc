"""Checksums of downloaded files, trusted on first use and kept with the course in ``data-checksums.txt``.

A lesson that names no checksum still gets every download checked: the first download of a
file records its SHA-256 in the course's ``data-checksums.txt`` (one line per file, as pooch's
registry files: ``name sha256:<hex> url``), the teacher commits that file, and from then on every
download of that name must match it. A checksum passed to ``download(url, sha256)`` wins.
"""

from __future__ import annotations

from pathlib import Path

from . import atomic

FILE_NAME = "data-checksums.txt"
HEADER = (
    "# SHA-256 of every file the lessons download, recorded by the first download (name, checksum, URL).\n"
    "# Commit this file: later downloads must match it. Delete a line to accept a new version of that file.\n"
)


def registry_file(root: Path) -> Path:
    return Path(root) / FILE_NAME


def read(root: Path) -> dict[str, str]:
    """``name -> sha256`` of the files recorded so far."""
    path = registry_file(root)
    found = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            fields = line.split()
            if len(fields) >= 2 and not line.lstrip().startswith("#") and fields[1].startswith("sha256:"):
                found[fields[0]] = fields[1].removeprefix("sha256:")
    return found


def record(root: Path, name: str, sha256: str, url: str) -> Path:
    """Add (or replace) the line of ``name``; written atomically."""
    path = registry_file(root)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True) if path.is_file() else [HEADER]
    lines = [line for line in lines if line.split()[:1] != [name]]
    lines.append(f"{name} sha256:{sha256} {url}\n")
    atomic.write_text(path, "".join(lines))
    return path
