"""Datasets that survive a Colab reset: the archive is cached in the course ``data/`` folder
(on Drive in Colab) and extracted to fast local disk (``/content/data`` in Colab).

pooch does the caching, the checksum check and the temp-file-then-rename; ``downloads`` adds a
downloader that resumes an interrupted download with HTTP Range (the bytes so far are kept in
``<name>.part`` beside the cache) and says in one line what failed; ``archives`` extracts
atomically. A URL is someone else's: the cached file's name is checked after decoding
(it cannot climb out of ``data/``), every download is checked against a checksum (the
lesson's, or the one recorded in ``data-checksums.txt`` by the first download: ``registry``),
and archives are unpacked by ``archives``, which refuses links and decompression bombs.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

import pooch

from . import archives, registry
from .config import course_paths
from .downloads import ResumingDownloader
from .errors import CourseError
from .locks import path_lock

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar", ".zip")


def download(
    url: str,
    sha256: str | None = None,
    *,
    name: str | None = None,
    extract: bool = True,
    progress: bool = True,
    limits: archives.Limits = archives.DEFAULT_LIMITS,
) -> Path:
    """Download ``url`` once and return the extracted folder (or the file itself if it is no archive).

    ``sha256`` guards against a changed or corrupt file: a cached copy that does not match is
    downloaded again. Without it, the checksum the first download recorded in
    ``data-checksums.txt`` is used (and recorded, the first time). ``name`` is the file name in
    the cache (default: the URL's last part); the archive ``x.tar.gz`` extracts to
    ``<local data>/x`` within ``limits``. With a valid cache no network is used.
    """
    name = _file_name(url, name)
    paths = course_paths()
    recorded = registry.read(paths.root).get(name)
    known_hash = _normalise_sha256(sha256) if sha256 else recorded
    cached = paths.data / name
    cached.parent.mkdir(parents=True, exist_ok=True)
    target = paths.local_data / _strip_archive_suffix(name)
    processor = archives.ExtractInPlace(target, url, limits) if extract and _is_archive(name) else None
    origin = "the lesson's sha256" if sha256 else f"the line of {name} in {registry.FILE_NAME}"
    downloader = ResumingDownloader(cached, known_hash, progress, origin)
    with path_lock("download", cached), _quiet(pooch.get_logger()):
        attached = _kaggle_dataset(name, known_hash)
        if attached is not None:
            print(
                f"using {attached}: the Kaggle dataset attached to this notebook has {name} with the expected checksum"
            )
            return Path(processor(str(attached), "fetch", None)) if processor else attached
        result = pooch.retrieve(
            url, known_hash, fname=name, path=paths.data, processor=processor, downloader=downloader
        )
    if downloader.downloaded and known_hash is None:
        written = registry.record(paths.root, name, pooch.file_hash(str(cached)), url)
        print(
            f"recorded the sha256 of {name} in {written.name}: commit that file, and every later download of "
            f"{name} must match it"
        )
    return Path(result)


def _file_name(url: str, name: str | None) -> str:
    """The cache's file name: given, or the URL's last part after decoding; never a path."""
    chosen = name if name is not None else PurePosixPath(unquote(urlparse(url).path)).name
    if not chosen or chosen in (".", "..") or any(char in chosen for char in "/\\\0") or chosen.startswith("."):
        source = f"name={name!r}" if name is not None else f"the URL {url}"
        raise CourseError(
            f"cannot use {chosen!r} from {source} as a file name in data/: pass a plain one, e.g. name='dataset.zip'"
        )
    return chosen


def _kaggle_dataset(name: str, known_hash: str | None) -> Path | None:
    """On Kaggle, a file called ``name`` in a dataset attached under /kaggle/input whose sha256 matches.

    Only a file with a known checksum counts: the name alone does not say it is the same data.
    ``COURSE_KAGGLE_INPUT`` points elsewhere (tests).
    """
    from .environment import runtime

    if known_hash is None or runtime() != "kaggle":
        return None
    inputs = Path(os.environ.get("COURSE_KAGGLE_INPUT") or "/kaggle/input")
    for candidate in sorted(inputs.glob(f"**/{glob.escape(name)}")) if inputs.is_dir() else []:
        if candidate.is_file() and pooch.file_hash(str(candidate)) == known_hash:
            return candidate
    return None


@contextlib.contextmanager
def _quiet(logger: logging.Logger):
    """Hide pooch's own log lines: they name pooch's API, not ours."""
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _normalise_sha256(sha256: str) -> str:
    digest = sha256.strip().lower().removeprefix("sha256:")
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise CourseError(f"{sha256!r} is not a SHA-256 checksum: it must be 64 hexadecimal digits")
    return digest


def _is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def _strip_archive_suffix(name: str) -> str:
    for suffix in ARCHIVE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name
