"""Updating a student's copy: real git, a `file://` remote, the cases the Colab scenario does not reach."""

import shutil
import subprocess

import pytest
from colab_course_tools.testing import git

from {{ cookiecutter.package }} import updates


@pytest.fixture
def copies(tmp_path):
    """(teacher's working copy, student's clone) of a small course behind a bare remote."""
    teacher = tmp_path / "teacher"
    (teacher / "lessons").mkdir(parents=True)
    (teacher / "lessons" / "01_intro.ipynb").write_text('{"cells": []}\n')
    (teacher / "README.md").write_text("course\n")
    git(teacher, "init", "-q", "-b", "main")
    git(teacher, "add", "-A")
    git(teacher, "commit", "-q", "-m", "Course")
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(teacher), str(remote))
    git(teacher, "remote", "add", "origin", remote.as_uri())
    git(teacher, "fetch", "-q", "origin")
    student = tmp_path / "student"
    git(tmp_path, "clone", "-q", remote.as_uri(), str(student))
    return teacher, student


def publish(teacher, message):
    git(teacher, "add", "-A")
    git(teacher, "commit", "-q", "-m", message)
    git(teacher, "push", "-q", "origin", "main")


def test_up_to_date_says_nothing(copies):
    _, student = copies
    assert updates.update(student, "main") == []


def test_no_network_on_kaggle_names_the_switch_and_changes_nothing(copies, tmp_path):
    teacher, student = copies
    shutil.rmtree(tmp_path / "remote.git")  # as unreachable as the internet with Kaggle's switch off
    (student / "README.md").write_text("my notes\n")
    (line,) = updates.update(student, "main", kaggle=True)
    assert line.startswith("Course not updated, your copy is kept as it is: git fetch: ")
    assert line.endswith("(Kaggle: turn on Settings > Internet)")
    assert (student / "README.md").read_text() == "my notes\n"


def test_a_file_the_student_made_where_the_course_now_adds_one_is_kept_beside_it(copies):
    teacher, student = copies
    (teacher / "lessons" / "02_next.ipynb").write_text('{"cells": ["teacher"]}\n')
    publish(teacher, "Lesson 02")
    (student / "lessons" / "02_next.ipynb").write_text('{"cells": ["student"]}\n')
    (line,) = updates.update(student, "main")
    assert (student / "lessons" / "02_next.ipynb").read_text() == '{"cells": ["teacher"]}\n'
    assert (student / "lessons" / "02_next.mine.ipynb").read_text() == '{"cells": ["student"]}\n'
    assert "lessons/02_next.ipynb -> lessons/02_next.mine.ipynb" in line


def test_a_file_the_student_deleted_comes_back_in_its_new_version(copies):
    teacher, student = copies
    (teacher / "README.md").write_text("course, second edition\n")
    publish(teacher, "README")
    (student / "README.md").unlink()
    assert updates.update(student, "main") == ["Course updated (1 file changed)."]
    assert (student / "README.md").read_text() == "course, second edition\n"


def test_a_second_copy_does_not_overwrite_the_first(copies):
    teacher, student = copies
    for edition in ("2", "3"):
        (teacher / "README.md").write_text(f"course {edition}\n")
        publish(teacher, f"README {edition}")
        (student / "README.md").write_text(f"my notes on {edition}\n")
        updates.update(student, "main")
    assert (student / "README.mine.md").read_text() == "my notes on 2\n"
    assert (student / "README.mine-2.md").read_text() == "my notes on 3\n"
    assert (student / "README.md").read_text() == "course 3\n"


def test_an_index_lock_of_a_git_working_here_stays_and_a_leftover_goes(copies):
    teacher, student = copies
    lock = student / ".git" / "index.lock"
    lock.write_text("")
    elsewhere = subprocess.Popen(["git", "-C", str(teacher), "cat-file", "--batch"], stdin=subprocess.PIPE)
    here = subprocess.Popen(["git", "-C", str(student), "cat-file", "--batch"], stdin=subprocess.PIPE)
    try:
        assert updates._remove_stale_lock(student) == [] and lock.exists(), "a git is working in this copy"
    finally:
        here.kill()
        here.wait()
    try:
        assert updates._remove_stale_lock(student)[0].startswith("Removed .git/index.lock")
        assert not lock.exists(), "a git working elsewhere does not hold this copy's lock"
    finally:
        elsewhere.kill()
        elsewhere.wait()


def test_drive_flipping_executable_bits_is_not_taken_for_the_students_edits(copies):
    """Google Drive changes files' executable bits: a teacher's executable script then looked edited by the
    student, and every update kept a `.mine` copy of it (Comfy-Org/ComfyUI#3700)."""
    teacher, student = copies
    script = teacher / "scripts" / "fetch.sh"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\necho one\n")
    script.chmod(0o755)
    publish(teacher, "A script")
    assert updates.update(student, "main") == ["Course updated (1 file changed)."]
    for path in student.rglob("*"):  # what Drive's sync does to modes
        if path.is_file() and ".git" not in path.parts:
            path.chmod(path.stat().st_mode ^ 0o111)
    script.write_text("#!/bin/sh\necho two\n")
    publish(teacher, "A better script")
    assert updates.update(student, "main") == ["Course updated (1 file changed)."]
    assert (student / "scripts" / "fetch.sh").read_text() == "#!/bin/sh\necho two\n"
    assert not list(student.rglob("*.mine*"))
