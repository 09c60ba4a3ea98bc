"""A pooch downloader that survives a broken connection: it keeps what arrived and resumes with HTTP Range.

pooch hands over a temporary file and renames it into place only after its own hash check; the
partial download lives in ``<cache>.part`` so that it survives a crash or a runtime reset. Each
failure ends in one line saying what happened and what to do.
"""

from __future__ import annotations

import http.client
import os
import socket
from pathlib import Path

import pooch
import requests

from .errors import CourseError

TIMEOUT = (15, 60)  # seconds to connect, seconds without a byte before giving up
ATTEMPTS = 3  # tries per call while each one makes progress
CHUNK = 2**16  # bytes per write: what arrived before a connection breaks is kept, less than one chunk is lost


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


class ResumingDownloader:
    """Downloads into ``<cache>.part``, resuming what an earlier attempt kept; checks the checksum."""

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
