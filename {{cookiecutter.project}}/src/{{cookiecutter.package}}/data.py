"""Datasets that survive a Colab reset: the archive is cached in the course ``data/`` folder
(on Drive in Colab) and extracted to fast local disk (``/content/data`` in Colab).

pooch does the caching, the checksum check and the temp-file-then-rename; this module
adds a downloader that resumes an interrupted download with HTTP Range (the bytes so far
are kept in ``<name>.part`` beside the cache), atomic extraction, and one clear message
per failure. A URL is someone else's: the cached file's name is checked after decoding
(it cannot climb out of ``data/``), every download is checked against a checksum (the
lesson's, or the one recorded in ``data-checksums.txt`` by the first download: ``registry``),
and archives are unpacked by ``archives``, which refuses links and decompression bombs.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import http.client
import logging
import os
import shutil
import socket
import tempfile
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

import pooch
import requests
from filelock import FileLock

from . import archives, registry
from .config import course_paths
from .errors import CourseError

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar", ".zip")
TIMEOUT = (15, 60)  # seconds to connect, seconds without a byte before giving up
ATTEMPTS = 3  # tries per call while each one makes progress
CHUNK = 2**16  # bytes per write: what arrived before a connection breaks is kept, less than one chunk is lost


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
    processor = _Extract(target, url, limits) if extract and _is_archive(name) else None
    origin = "the lesson's sha256" if sha256 else f"the line of {name} in {registry.FILE_NAME}"
    downloader = _ResumingDownloader(cached, known_hash, progress, origin)
    with FileLock(_lock_path(cached)), _quiet(pooch.get_logger()):
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


def _lock_path(cached: Path) -> str:
    """A lock on local disk (Drive's FUSE mount may not support locks) shared by every process here."""
    key = hashlib.sha1(str(cached.resolve()).encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"course-download-{key}.lock")


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


class _ResumingDownloader:
    """A pooch downloader that keeps the bytes received so far and resumes with HTTP Range.

    pooch hands over a temporary file and renames it into place only after its own hash check;
    the partial download lives in ``<cache>.part`` so that it survives a crash or a reset.
    """

    def __init__(self, cached: Path, known_hash: str | None, progress: bool, origin: str):
        self.cached = cached
        self.origin = origin  # where the expected checksum comes from, for the message
        self.part = cached.with_name(cached.name + ".part")
        self.known_hash = known_hash
        self.progress = progress
        self.downloaded = False

    def __call__(self, url: str, output_file: str, pooch_object, check_only: bool = False) -> None:
        if self.cached.exists():
            print(f"the cached {self.cached.name} does not match its checksum: downloading it again")
        resumed = self._download(url)
        actual = pooch.file_hash(str(self.part))
        if self.known_hash and actual != self.known_hash and resumed:
            # the kept bytes may belong to an older version of the file: start over once
            self.part.unlink()
            self._download(url)
            actual = pooch.file_hash(str(self.part))
        if self.known_hash and actual != self.known_hash:
            self.part.unlink()
            raise CourseError(
                f"the file downloaded from {url} is not the expected one (sha256 {actual}, expected "
                f"{self.known_hash}, from {self.origin}); nothing was kept. Run again to retry; if it happens again "
                "the file on the server has changed: ask the course author to update the checksum"
            )
        os.replace(self.part, output_file)
        self.downloaded = True

    def _download(self, url: str) -> bool:
        """Fetch into ``self.part``, retrying while each attempt makes progress; True if it resumed."""
        resumed = False
        for attempt in range(1, ATTEMPTS + 1):
            before = self._received()
            try:
                resumed |= self._fetch(url)
                return resumed
            except requests.HTTPError as error:
                raise self._http_error(url, error) from None
            except requests.RequestException as error:
                progressed = self._received() > before
                if not progressed or attempt == ATTEMPTS:
                    raise self._network_error(url, error, attempt) from None

    def _received(self) -> int:
        return self.part.stat().st_size if self.part.exists() else 0

    def _fetch(self, url: str) -> bool:
        offset = self._received()
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        with requests.get(url, headers=headers, stream=True, timeout=TIMEOUT) as response:
            if offset and response.status_code == 416:  # kept bytes are stale: start over
                self.part.unlink()
                return self._fetch(url)
            response.raise_for_status()
            resumed = bool(offset) and response.status_code == 206
            if not resumed:
                offset = 0
            length = response.headers.get("Content-Length")
            total = offset + int(length) if length and length.isdigit() else None
            with (
                open(self.part, "ab" if resumed else "wb") as file,
                _progress_bar(self.cached.name, total, offset, self.progress) as bar,
            ):
                for chunk in response.iter_content(chunk_size=CHUNK):
                    file.write(chunk)
                    bar.update(len(chunk))
                file.flush()
                os.fsync(file.fileno())
        if total is not None and "Content-Encoding" not in response.headers and self._received() != total:
            raise requests.ConnectionError(f"connection closed after {_size(self._received())} of {_size(total)}")
        return resumed

    def _http_error(self, url: str, error: requests.HTTPError) -> CourseError:
        response = error.response
        return CourseError(
            f"cannot download {url}: the server answered {response.status_code} {response.reason}. "
            "Check the address (the lesson's data_url parameter) or ask the course author for the current one"
        )

    def _network_error(self, url: str, error: requests.RequestException, attempts: int) -> CourseError:
        received = self._received()
        if received:
            return CourseError(
                f"the download of {url} broke off {attempts} times ({_reason(error)}); the "
                f"{_size(received)} received so far are kept in {self.part}: run again to resume"
            )
        if self.cached.exists():
            return CourseError(
                f"cannot download {url}: the server cannot be reached ({_reason(error)}), and the cached "
                f"copy {self.cached} does not match the checksum. Check the internet connection and run again"
            )
        return CourseError(
            f"cannot download {url}: the server cannot be reached ({_reason(error)}). "
            f"Check the internet connection and run again, or put the file at {self.cached} yourself"
        )


def _reason(error: Exception) -> str:
    """The root cause of a requests error, in a few words."""
    cause = error
    while True:
        inner = getattr(cause, "reason", None)
        inner = inner if isinstance(inner, BaseException) else cause.__cause__ or cause.__context__
        if inner is None:
            break
        cause = inner
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, socket.gaierror):
        return "host name not found"
    if isinstance(cause, TimeoutError):
        return "no answer in time"
    if isinstance(cause, http.client.IncompleteRead):
        return "connection closed early"
    text = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
    return text[:160]


def _progress_bar(name: str, total: int | None, initial: int, enabled: bool):
    # the plain bar: it renders in Colab and Jupyter too, and needs no ipywidgets
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=name,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        disable=not enabled,
    )


class _Extract:
    """A pooch processor that unpacks into a hidden temporary folder and renames it into place.

    A reset in the middle of extracting leaves no half-filled dataset folder behind; an archive
    that was (re)downloaded replaces the old folder.
    """

    def __init__(self, target: Path, url: str, limits: archives.Limits):
        self.target, self.url, self.limits = target, url, limits

    def __call__(self, fname: str, action: str, pooch_object) -> str:
        if action == "fetch" and self.target.is_dir():
            return str(self.target)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        for stale in self.target.parent.glob(glob.escape(f".{self.target.name}-") + "*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by an extraction cut short (we hold the lock)
        scratch = Path(tempfile.mkdtemp(dir=self.target.parent, prefix=f".{self.target.name}-"))
        try:
            archives.unpack(Path(fname), scratch / "content", self.url, self.limits)
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
