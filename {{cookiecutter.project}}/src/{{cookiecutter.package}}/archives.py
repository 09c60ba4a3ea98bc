"""Unpacking archives from URLs someone else controls: nothing lands outside its folder.

A dataset archive needs regular files and folders only. So links (symbolic or hard), devices
and pipes are refused: a chain of symbolic links longer than ``PATH_MAX`` once got around
tarfile's own ``data`` filter (CVE-2025-4517). So are absolute member names and names that climb
out with ``..``. An archive may expand to at most ``Limits.max_bytes`` in ``max_members``
members, and to no more than ``max_ratio`` times its own size, so a decompression bomb stops
with a message instead of filling the disk. Every member is checked before anything is written,
and written by this module (never by ``extractall``), so the rules hold on a Python whose
tarfile has no extraction filter.
"""

from __future__ import annotations

import glob
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import CourseError


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 20 * 2**30  # all members together, expanded
    max_members: int = 500_000
    max_ratio: float = 200.0  # expanded size / archive size; real datasets stay far below


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class _Member:
    name: PurePosixPath
    is_dir: bool
    size: int
    open: object  # () -> a binary file object with the member's bytes


class _Refused(Exception):
    pass


def unpack(archive: Path, folder: Path, source: str, limits: Limits = DEFAULT_LIMITS) -> None:
    """Extract ``archive`` into ``folder`` (which must not exist yet); ``CourseError`` naming what is wrong."""
    try:
        with _opened(archive) as members:
            checked = _check(members, archive.stat().st_size, limits)
            _write(checked, folder, limits)
    except _Refused as refused:
        shutil.rmtree(folder, ignore_errors=True)
        raise CourseError(
            f"{archive.name} (from {source}) was refused: {refused}. Nothing was extracted; "
            "if you trust this archive, unpack it yourself"
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile, tarfile.TarError) as error:
        shutil.rmtree(folder, ignore_errors=True)
        raise CourseError(f"{archive} (from {source}) cannot be extracted ({error}): delete it and run again") from None


class _opened:
    """The archive's members, tar or zip, as ``_Member``s; closes the archive afterwards."""

    def __init__(self, archive: Path):
        self.archive = archive

    def __enter__(self) -> list[_Member]:
        if self.archive.name.lower().endswith(".zip"):
            self.handle = zipfile.ZipFile(self.archive)
            listed, describe = self.handle.infolist, _zip_member
        else:
            self.handle = tarfile.open(self.archive)
            listed, describe = self.handle.getmembers, _tar_member
        try:
            return [describe(self.handle, info) for info in listed()]
        except BaseException:
            self.handle.close()
            raise

    def __exit__(self, *exc) -> None:
        self.handle.close()


def _zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Member:
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise _Refused(f"it holds a symbolic link ({info.filename}), and a dataset needs none")
    return _Member(_safe_name(info.filename), info.is_dir(), info.file_size, lambda: archive.open(info))


def _tar_member(archive: tarfile.TarFile, info: tarfile.TarInfo) -> _Member:
    if info.issym() or info.islnk():
        raise _Refused(f"it holds a link ({info.name} -> {info.linkname}), and a dataset needs none")
    if not (info.isfile() or info.isdir()):
        raise _Refused(f"it holds {info.name}, which is neither a file nor a folder")
    return _Member(_safe_name(info.name), info.isdir(), info.size, lambda: archive.extractfile(info))


def _safe_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    parts = [part for part in path.parts if part not in ("", ".")]
    if path.is_absolute() or ".." in parts or not parts or "\0" in name:
        raise _Refused(f"the member name {name!r} points outside the archive's folder")
    return PurePosixPath(*parts)


def _check(members: list[_Member], archive_size: int, limits: Limits) -> list[_Member]:
    if len(members) > limits.max_members:
        raise _Refused(f"it has {len(members):,} members, more than the {limits.max_members:,} allowed (max_members=)")
    total = sum(member.size for member in members)
    if total > limits.max_bytes:
        raise _Refused(f"it expands to {_size(total)}, more than the {_size(limits.max_bytes)} allowed (max_bytes=)")
    if archive_size and total / archive_size > limits.max_ratio:
        raise _Refused(
            f"it expands {total / archive_size:,.0f} times ({_size(archive_size)} to {_size(total)}), like a "
            f"decompression bomb; at most {limits.max_ratio:g} times is allowed (max_ratio=)"
        )
    return members


def _write(members: list[_Member], folder: Path, limits: Limits) -> None:
    folder.mkdir(parents=True)
    root = folder.resolve()
    written = 0
    for member in members:
        target = root.joinpath(*member.name.parts)
        if not target.resolve().is_relative_to(root):  # only links could do this, and none are allowed
            raise _Refused(f"the member {member.name} would land outside the archive's folder")
        if member.is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with member.open() as source, open(target, "wb") as sink:
            while chunk := source.read(2**20):
                written += len(chunk)
                if written > limits.max_bytes:  # the sizes the archive declares can lie
                    raise _Refused(f"it expands to more than the {_size(limits.max_bytes)} allowed (max_bytes=)")
                sink.write(chunk)


def _size(n: float) -> str:
    return f"{n / 2**20:,.1f} MB" if n < 2**30 else f"{n / 2**30:,.1f} GB"


class ExtractInPlace:
    """A pooch processor that unpacks into a hidden temporary folder and renames it into place.

    A reset in the middle of extracting leaves no half-filled dataset folder behind; an archive
    that was (re)downloaded replaces the old folder.
    """

    def __init__(self, target: Path, url: str, limits: Limits):
        self.target, self.url, self.limits = target, url, limits

    def __call__(self, fname: str, action: str, pooch_object) -> str:
        if action == "fetch" and self.target.is_dir():
            return str(self.target)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        for stale in self.target.parent.glob(glob.escape(f".{self.target.name}-") + "*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by an extraction cut short (we hold the lock)
        scratch = Path(tempfile.mkdtemp(dir=self.target.parent, prefix=f".{self.target.name}-"))
        try:
            unpack(Path(fname), scratch / "content", self.url, self.limits)
            content = scratch / "content"
            entries = list(content.iterdir())
            if len(entries) == 1 and entries[0].is_dir():  # archive with one top folder: use its contents
                content = entries[0]
            if self.target.exists():
                os.replace(self.target, scratch / "old")
            os.replace(content, self.target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return str(self.target)
