"""`data.download` against a real HTTP server on 127.0.0.1 serving archives built here."""

import hashlib
import io
import os
import shutil
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from {{ cookiecutter.package }} import CourseError, data, testing

PAYLOAD = {"digits/train.csv": os.urandom(600_000), "digits/README.txt": b"tiny digits\n"}


def make_tar_gz(files: dict) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


ARCHIVE = make_tar_gz(PAYLOAD)
SHA256 = hashlib.sha256(ARCHIVE).hexdigest()


@pytest.fixture
def server():
    """Serves the archive on 127.0.0.1 under the routes of ``testing.FileServer`` (ok, drop-once, ...)."""
    with testing.FileServer({"digits.tar.gz": ARCHIVE}) as running:
        yield running


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A course root whose archive cache (data/) and extraction folder differ, as in Colab."""
    for name in ("COLAB_RELEASE_TAG", "COURSE_CHECKPOINTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path / "course"))
    monkeypatch.setenv("COURSE_LOCAL_DATA", str(tmp_path / "local"))
    return tmp_path


@pytest.fixture
def closed_port_url():
    return testing.closed_port_url()


def files_under(folder: Path) -> list:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def assert_extracted(folder: Path):
    assert files_under(folder) == ["README.txt", "train.csv"]  # the single top folder is flattened
    assert (folder / "train.csv").read_bytes() == PAYLOAD["digits/train.csv"]


def test_download_caches_archive_extracts_locally_and_then_works_offline(server, course, closed_port_url):
    folder = data.download(f"{server.base}/ok/digits.tar.gz", SHA256, progress=False)

    assert folder == course / "local" / "digits"
    assert_extracted(folder)
    assert files_under(course / "course" / "data") == ["digits.tar.gz"]  # no .part, no temp files
    assert (course / "course" / "data" / "digits.tar.gz").read_bytes() == ARCHIVE
    assert [path for path, _ in server.requests] == ["/ok/digits.tar.gz"]

    # a Colab reset wipes local disk (or cuts an extraction short); the server is gone too: the cache is enough
    shutil.rmtree(folder)
    (course / "local" / ".digits-k3j2x1" / "content").mkdir(parents=True)
    (course / "local" / ".digits-k3j2x1" / "content" / "train.csv").write_bytes(b"half")
    again = data.download(f"{closed_port_url}/ok/digits.tar.gz", SHA256, progress=False)
    assert again == folder
    assert_extracted(folder)
    assert files_under(course / "local") == ["digits/README.txt", "digits/train.csv"]


def test_dropped_connection_resumes_with_range(server, course, capsys):
    folder = data.download(f"{server.base}/drop-once/digits.tar.gz", SHA256)

    assert_extracted(folder)
    progress = capsys.readouterr().err
    assert "digits.tar.gz:" in progress and "100%" in progress  # the resumed bar ends full
    (first, first_range), (second, second_range) = server.requests
    assert first_range is None
    start = int(second_range.removeprefix("bytes=").rstrip("-"))
    assert 0 < start <= len(ARCHIVE) // 2  # only the missing part was asked for again
    assert files_under(course / "course" / "data") == ["digits.tar.gz"]


def test_broken_download_keeps_what_arrived_and_the_next_run_resumes(server, course):
    url = f"{server.base}/drop-always/digits.tar.gz"
    part = course / "course" / "data" / "digits.tar.gz.part"
    with pytest.raises(CourseError) as caught:
        data.download(url, SHA256, progress=False)

    kept = part.stat().st_size
    assert 0 < kept <= len(ARCHIVE) // 2
    assert str(caught.value) == (
        f"the download of {url} broke off 2 times (connection closed early); the "
        f"{kept / 2**20:.1f} MB received so far are kept in {part}: run again to resume"
    )
    assert files_under(course / "course" / "data") == ["digits.tar.gz.part"]
    assert not (course / "local").exists()

    folder = data.download(f"{server.base}/ok/digits.tar.gz", SHA256, progress=False)
    assert server.requests[-1] == ("/ok/digits.tar.gz", f"bytes={kept}-")
    assert_extracted(folder)
    assert files_under(course / "course" / "data") == ["digits.tar.gz"]


def test_checksum_mismatch_names_both_hashes_and_keeps_nothing(server, course):
    url = f"{server.base}/wrong/digits.tar.gz"
    with pytest.raises(CourseError) as caught:
        data.download(url, SHA256, progress=False)

    actual = hashlib.sha256(bytes(reversed(ARCHIVE))).hexdigest()
    assert str(caught.value) == (
        f"the file downloaded from {url} is not the expected one (sha256 {actual}, expected {SHA256}); "
        "nothing was kept. Run again to retry; if it happens again the file on the server has changed: "
        "ask the course author to update the checksum"
    )
    assert files_under(course / "course" / "data") == []
    assert not (course / "local").exists()


def test_corrupt_cache_is_downloaded_again(server, course, capsys):
    cached = course / "course" / "data" / "digits.tar.gz"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(ARCHIVE[: len(ARCHIVE) // 3])  # e.g. a Drive copy that never finished syncing

    folder = data.download(f"{server.base}/ok/digits.tar.gz", f"sha256:{SHA256.upper()}", progress=False)

    assert "the cached digits.tar.gz does not match its checksum: downloading it again" in capsys.readouterr().out
    assert cached.read_bytes() == ARCHIVE
    assert_extracted(folder)


def test_not_found_says_to_check_the_address(server, course):
    url = f"{server.base}/ok/missing.zip"
    with pytest.raises(CourseError) as caught:
        data.download(url, SHA256, progress=False)

    assert str(caught.value) == (
        f"cannot download {url}: the server answered 404 Not Found. Check the address "
        "(the lesson's data_url parameter) or ask the course author for the current one"
    )
    assert files_under(course / "course" / "data") == []


def test_unreachable_server_without_cache(course, closed_port_url):
    url = f"{closed_port_url}/ok/digits.tar.gz"
    cached = course / "course" / "data" / "digits.tar.gz"
    with pytest.raises(CourseError) as caught:
        data.download(url, SHA256, progress=False)

    assert str(caught.value) == (
        f"cannot download {url}: the server cannot be reached (connection refused). "
        f"Check the internet connection and run again, or put the file at {cached} yourself"
    )
    assert files_under(course / "course" / "data") == []


def test_unreachable_server_with_a_corrupt_cache(course, closed_port_url):
    url = f"{closed_port_url}/ok/digits.tar.gz"
    cached = course / "course" / "data" / "digits.tar.gz"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not the archive")
    with pytest.raises(CourseError) as caught:
        data.download(url, SHA256, progress=False)

    assert str(caught.value) == (
        f"cannot download {url}: the server cannot be reached (connection refused), and the cached "
        f"copy {cached} does not match the checksum. Check the internet connection and run again"
    )
    assert files_under(course / "course" / "data") == ["digits.tar.gz"]


def test_zip_without_checksum_prints_the_checksum_to_pin(server, course, capsys):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "a")
        archive.writestr("sub/b.txt", "b")
    server.files["letters.zip"] = buffer.getvalue()

    folder = data.download(f"{server.base}/ok/letters.zip", progress=False)

    assert files_under(folder) == ["a.txt", "sub/b.txt"]
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    assert f"sha256 of letters.zip: {digest} (pass it as sha256= to check future downloads)" in capsys.readouterr().out


def test_plain_file_and_extract_false_return_the_cached_file(server, course):
    server.files["labels.csv"] = b"id,label\n1,7\n"
    cached = data.download(f"{server.base}/ok/labels.csv", progress=False)
    assert cached == course / "course" / "data" / "labels.csv"
    assert cached.read_bytes() == b"id,label\n1,7\n"

    archive = data.download(f"{server.base}/ok/digits.tar.gz", SHA256, extract=False, progress=False)
    assert archive == course / "course" / "data" / "digits.tar.gz"
    assert not (course / "local").exists()


def test_bad_checksum_argument(course):
    with pytest.raises(CourseError, match="'abc' is not a SHA-256 checksum: it must be 64 hexadecimal digits"):
        data.download("http://127.0.0.1:9/x.zip", "abc")


def test_simultaneous_downloads_of_one_file_download_it_once(server, course):
    """Two lessons (or sweep workers) asking for the same dataset at once must not interleave writes."""
    url = f"{server.base}/ok/digits.tar.gz"
    results, errors = [], []

    def fetch():
        try:
            results.append(data.download(url, SHA256, progress=False))
        except Exception as error:  # reported below, with the thread's result
            errors.append(error)

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert results == [course / "local" / "digits"] * 2
    assert server.requests == [("/ok/digits.tar.gz", None)]
    assert_extracted(results[0])


def test_on_kaggle_an_attached_dataset_with_the_same_checksum_is_used_offline(
    course, monkeypatch, closed_port_url, capsys
):
    attached = course / "kaggle-input" / "digits-dataset" / "digits.tar.gz"
    attached.parent.mkdir(parents=True)
    attached.write_bytes(ARCHIVE)
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    monkeypatch.setenv("COURSE_KAGGLE_INPUT", str(course / "kaggle-input"))

    folder = data.download(f"{closed_port_url}/digits.tar.gz", SHA256, progress=False)  # no server: offline

    assert folder == course / "local" / "digits"
    assert_extracted(folder)
    assert f"using {attached}: the Kaggle dataset attached to this notebook" in capsys.readouterr().out
    assert not (course / "course" / "data" / "digits.tar.gz").exists(), "read in place, not copied"


def test_on_kaggle_an_attached_file_with_another_checksum_is_not_used(course, monkeypatch, closed_port_url):
    attached = course / "kaggle-input" / "other" / "digits.tar.gz"
    attached.parent.mkdir(parents=True)
    attached.write_bytes(ARCHIVE + b"changed")
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    monkeypatch.setenv("COURSE_KAGGLE_INPUT", str(course / "kaggle-input"))
    with pytest.raises(CourseError, match="cannot download .*: the server cannot be reached"):
        data.download(f"{closed_port_url}/digits.tar.gz", SHA256, progress=False)
