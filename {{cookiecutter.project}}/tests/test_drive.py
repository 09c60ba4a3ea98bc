"""Google Drive helpers: sync duplicates such as `utils (1).py`, and the mount check."""

from pathlib import Path

from {{ cookiecutter.package }} import drive


def touch(root: Path, *names: str):
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")


def test_duplicates_are_drive_copy_names_with_or_without_their_original(tmp_path):
    touch(
        tmp_path,
        "pkg/utils.py",
        "pkg/utils (1).py",
        "pkg/utils (12).py",
        "lessons/01_intro.ipynb",
        "lessons/01_intro (2).ipynb",
        "data/digits.tar.gz",
        "data/digits (1).tar.gz",
        "pkg/helpers (1).py",  # no helpers.py: nothing imports this name either
        "pkg/notes(1).txt",
        "pkg/notes.txt",  # Drive always puts a space before "(1)"
        "pkg/__pycache__/utils.py",
        "pkg/__pycache__/utils (1).py",
        ".git/config",
        ".git/config (1)",
    )

    assert [p.relative_to(tmp_path).as_posix() for p in drive.duplicates(tmp_path)] == [
        "data/digits (1).tar.gz",
        "lessons/01_intro (2).ipynb",
        "pkg/helpers (1).py",
        "pkg/utils (1).py",
        "pkg/utils (12).py",
    ]
    assert drive.duplicates(tmp_path / "missing") == []


def test_original_of_keeps_compound_suffixes():
    assert drive.original_of(Path("a/utils (1).py")) == Path("a/utils.py")
    assert drive.original_of(Path("digits (3).tar.gz")) == Path("digits.tar.gz")
    assert drive.original_of(Path("Makefile (1)")) == Path("Makefile")
    assert drive.original_of(Path("utils.py")) is None


def test_warning_names_the_files_to_delete(tmp_path):
    touch(tmp_path, "src/pkg/utils.py", "src/pkg/utils (1).py", "src/pkg/data.py", "src/pkg/data (2).py")

    message = drive.duplicates_warning(drive.duplicates(tmp_path / "src"), tmp_path)

    assert message == (
        "Google Drive made duplicate copies that hide your edits: src/pkg/data (2).py, src/pkg/utils (1).py. "
        "Keep the up-to-date content in the original file, delete these copies, then restart the runtime."
    )
    assert drive.duplicates_warning([], tmp_path) is None


def test_a_copy_alone_is_named_with_the_name_to_give_back(tmp_path):
    touch(tmp_path, "src/pkg/utils.py", "src/pkg/utils (1).py", "src/pkg/helpers (1).py")
    message = drive.duplicates_warning(drive.duplicates(tmp_path / "src"), tmp_path)
    assert message == (
        "Google Drive made duplicate copies that hide your edits: src/pkg/utils (1).py. Keep the up-to-date "
        "content in the original file, delete these copies, then restart the runtime. Google Drive renamed "
        "files, so nothing imports or opens them: rename them back (src/pkg/helpers (1).py -> helpers.py)."
    )


def test_mount_point_and_state_follow_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DRIVE_MOUNT", str(tmp_path / "drive"))
    assert drive.mount_point() == tmp_path / "drive"
    assert not drive.is_mounted()
    (tmp_path / "drive" / "MyDrive").mkdir(parents=True)
    assert drive.is_mounted()
