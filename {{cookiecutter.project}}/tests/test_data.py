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
from colab_course_tools import testing

from {{ cookiecutter.package }} import CourseError, archives, data

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
        f"the file downloaded from {url} is not the expected one (sha256 {actual}, expected {SHA256}, "
        "from the lesson's sha256); nothing was kept. Run again to retry; if it happens again the file on the "
        "server has changed: ask the course author to update the checksum"
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


def test_without_a_checksum_the_first_download_records_one_and_later_ones_must_match(server, course, capsys):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "a")
        archive.writestr("sub/b.txt", "b")
    server.files["letters.zip"] = buffer.getvalue()
    url = f"{server.base}/ok/letters.zip"

    folder = data.download(url, progress=False)

    assert files_under(folder) == ["a.txt", "sub/b.txt"]
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    checksums = course / "course" / "data-checksums.txt"
    assert f"letters.zip sha256:{digest} {url}\n" in checksums.read_text()
    assert "recorded the sha256 of letters.zip in data-checksums.txt: commit that file" in capsys.readouterr().out

    # The file on the server changes: the recorded checksum refuses it, and names where it comes from.
    shutil.rmtree(course / "course" / "data")
    server.files["letters.zip"] = buffer.getvalue() + b"tampered"
    with pytest.raises(CourseError, match="from the line of letters.zip in data-checksums.txt"):
        data.download(url, progress=False)


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


# -- archives and names from someone else -------------------------------------------------------------


def tar_bytes(build) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        build(archive)
    return buffer.getvalue()


def add(archive, name, content=b"", **fields):
    info = tarfile.TarInfo(name)
    info.size = len(content)
    for key, value in fields.items():
        setattr(info, key, value)
    archive.addfile(info, io.BytesIO(content))


def cve_2025_4517(archive):
    """The public test layout: a chain of links whose resolved path is longer than PATH_MAX, then a
    link through it to a file outside, then a regular file written through that link."""
    component = "d" * 247
    steps = "abcdefghijklmnop"
    path = ""
    for step in steps:
        add(archive, os.path.join(path, component), type=tarfile.DIRTYPE)
        add(archive, os.path.join(path, step), type=tarfile.SYMTYPE, linkname=component)
        path = os.path.join(path, component)
    linkpath = os.path.join(*steps, "l" * 254)
    add(archive, linkpath, type=tarfile.SYMTYPE, linkname="../" * len(steps))
    add(archive, "escape", type=tarfile.SYMTYPE, linkname=linkpath + "/../../../src/course_init.py")
    add(archive, "escape", b"planted = True\n")


def hard_link(archive):
    add(archive, "data/readme.txt", b"x")
    add(archive, "data/passwd", type=tarfile.LNKTYPE, linkname="/etc/passwd")


def climbs_out(archive):
    add(archive, "../../outside.txt", b"x")


def absolute(archive):
    add(archive, "/tmp/course-absolute-test.txt", b"x")


def device(archive):
    add(archive, "data/null", type=tarfile.CHRTYPE, devmajor=1, devminor=3)


@pytest.mark.parametrize(
    "build, reason",
    [
        (cve_2025_4517, "it holds a link ("),
        (hard_link, "it holds a link (data/passwd -> /etc/passwd)"),
        (climbs_out, "the member name '../../outside.txt' points outside"),
        (absolute, "the member name '/tmp/course-absolute-test.txt' points outside"),
        (device, "it holds data/null, which is neither a file nor a folder"),
    ],
    ids=["cve-2025-4517", "hard-link", "dot-dot", "absolute", "device"],
)
def test_a_hostile_tar_is_refused_and_nothing_lands_anywhere(server, course, build, reason):
    server.files["evil.tar"] = tar_bytes(build)
    digest = hashlib.sha256(server.files["evil.tar"]).hexdigest()
    before = files_under(course)
    with pytest.raises(CourseError) as caught:
        data.download(f"{server.base}/ok/evil.tar", digest, progress=False)
    message = str(caught.value)
    assert message.startswith(f"evil.tar (from {server.base}/ok/evil.tar) was refused: {reason}")
    assert "Nothing was extracted" in message and len(message.splitlines()) == 1
    after = set(files_under(course)) - set(before)
    assert after == {"course/data/evil.tar"}, "only the downloaded archive itself, in data/"
    assert not (course / "local").exists() or files_under(course / "local") == []
    assert not Path("/tmp/course-absolute-test.txt").exists()


def test_a_zip_with_a_symbolic_link_is_refused(server, course):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("data/link")
        link.external_attr = 0o120777 << 16  # how zip stores a symbolic link
        archive.writestr(link, "/etc/passwd")
    server.files["links.zip"] = buffer.getvalue()
    with pytest.raises(CourseError, match="it holds a symbolic link \\(data/link\\)"):
        data.download(f"{server.base}/ok/links.zip", hashlib.sha256(buffer.getvalue()).hexdigest(), progress=False)


def test_a_decompression_bomb_stops_with_a_message(server, course):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\0" * 50 * 2**20)  # 50 MB of zeros, some 50 KB compressed
    server.files["bomb.zip"] = buffer.getvalue()
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    with pytest.raises(CourseError, match="it expands [0-9,]+ times .* like a decompression bomb"):
        data.download(f"{server.base}/ok/bomb.zip", digest, progress=False)
    small = archives.Limits(max_bytes=2**20, max_ratio=10**6)
    with pytest.raises(CourseError, match="it expands to 50.0 MB, more than the 1.0 MB allowed \\(max_bytes=\\)"):
        data.download(f"{server.base}/ok/bomb.zip", digest, progress=False, limits=small)
    assert not (course / "local" / "bomb").exists()


def test_too_many_members_is_refused(server, course):
    server.files["many.tar"] = tar_bytes(lambda archive: [add(archive, f"f{i}.txt", b"x") for i in range(20)])
    digest = hashlib.sha256(server.files["many.tar"]).hexdigest()
    with pytest.raises(CourseError, match="it has 20 members, more than the 10 allowed"):
        data.download(f"{server.base}/ok/many.tar", digest, progress=False, limits=archives.Limits(max_members=10))


@pytest.mark.parametrize("tail", ["..%2Fsrc.tar", "%2E%2E%2F%2E%2E%2Fsrc.tar", "..%5Csrc.tar", "%2E%2E"])
def test_a_url_cannot_name_a_file_outside_data(server, course, tail):
    server.files[f"sub/{tail}"] = tar_bytes(lambda archive: add(archive, "x.txt", b"x"))  # served as asked
    url = f"{server.base}/ok/sub/{tail}"
    try:
        data.download(url, progress=False)
        assert (course / "course" / "data" / "src.tar").is_file(), "cached under the decoded name's last part"
    except CourseError as refused:  # refused by name, or not served under the name the client sends
        assert "as a file name in data/" in str(refused) or "404 Not Found" in str(refused)
    outside = [path for path in files_under(course) if not path.startswith(("course/data/", "local/"))]
    assert outside == ["course/data-checksums.txt"] or outside == [], outside
    assert not (course / "course" / "src.tar").exists()


@pytest.mark.parametrize("name", ["../escape.zip", "sub/file.zip", ".hidden.zip", ".."])
def test_a_name_argument_is_a_plain_file_name(course, name):
    with pytest.raises(CourseError, match="as a file name in data/: pass a plain one"):
        data.download("http://127.0.0.1:9/x.zip", name=name)


def test_extraction_needs_no_tarfile_filter(server, course, monkeypatch):
    """Pythons before 3.11.4 (Debian's 3.11.2) have no `filter=`: unpacking must not depend on it."""
    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    monkeypatch.setattr(tarfile.TarFile, "extractall", lambda *a, **k: pytest.fail("extractall is never used"))
    assert_extracted(data.download(f"{server.base}/ok/digits.tar.gz", SHA256, progress=False))
