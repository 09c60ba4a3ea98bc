"""`course new`, `course check` and `course sync`, run as a teacher would, on copies of this repository."""

import json
import shutil
from pathlib import Path

import pytest

from {{ cookiecutter.package }} import notebooks
from {{ cookiecutter.package }}.authoring.naming import slugify
from {{ cookiecutter.package }}.config import load_config
from {{ cookiecutter.package }}.notebooks import LESSON_NAME
from {{ cookiecutter.package }}.notebooks import lesson_files as lessons
from {{ cookiecutter.package }}.testing import add_output as add_cell_output
from {{ cookiecutter.package }}.testing import edit_notebook, tagged_cell

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def course_copy(tmp_path):
    """What `course check` looks at, copied: pyproject.toml, README.md, lessons/, snippets/."""
    copy = tmp_path / "course"
    copy.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, copy / name)
    for name in ("lessons", "snippets"):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return copy


def problem_lines(result, path):
    """Lines of `course check` output about ``path`` (relative, as printed)."""
    return [line for line in result.stdout.splitlines() if line.startswith(f"{path}: ")]


def test_this_repository_passes_check(course_cli):
    result = course_cli("check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("all good")


# --- every kind of problem: file, cause, fix, exit 1 -------------------------------------------


def add_output(notebook):
    add_cell_output(tagged_cell(notebook, notebooks.PARAMETERS_TAG))


def edit_setup_cell(notebook):
    notebook["cells"][0]["source"] += "\nprint('edited')"


def untag_parameters(notebook):
    tagged_cell(notebook, notebooks.PARAMETERS_TAG)["metadata"]["tags"] = []


def drop_colab_metadata(notebook):
    del notebook["metadata"]["colab"]


def break_schema(notebook):
    notebook["cells"][0]["cell_type"] = "not-a-cell-type"


NOTEBOOK_PROBLEMS = {
    "outputs": (add_output, "outputs or execution counts committed", "course sync"),
    "setup cell": (edit_setup_cell, "setup cell differs", "course sync"),
    "parameters": (untag_parameters, "no code cell tagged `parameters`", "smoke = ..."),
    "colab metadata": (drop_colab_metadata, "metadata lacks colab", "course sync"),
    "nbformat": (break_schema, "invalid nbformat", "save it again"),
}


@pytest.mark.parametrize("kind", NOTEBOOK_PROBLEMS)
def test_check_reports_notebook_problem(kind, course_copy, course_cli):
    change, message, fix = NOTEBOOK_PROBLEMS[kind]
    lesson = lessons(course_copy)[-1]
    edit_notebook(lesson, change)
    result = course_cli("check", cwd=course_copy)
    assert result.returncode == 1
    lines = problem_lines(result, f"lessons/{lesson.name}")
    assert any(message in line and "; fix: " in line and fix in line for line in lines), result.stdout


def fake_secrets():
    """(kind, cell source) with token-shaped strings, assembled here so that this file itself holds none."""
    hexkey = "0123456789abcdef" * 2
    return [
        ("GitHub token", 'token = "' + "ghp_" + "aB3dE5gH7j" * 4 + '"'),
        ("GitLab token", "!git clone https://oauth2:" + "glpat-" + "xY7zW6vU5tS4rQ3pO2nM" + "@gitlab.com/a/b.git"),
        ("Hugging Face token", 'login("' + "hf_" + "QwErTyUiOp" * 4 + '")'),
        ("OpenAI-style API key", 'client = OpenAI(api_key="' + "sk-" + "proj-" + "Zx9Cv8Bn7M" * 5 + '")'),
        ("Google API key", 'genai.configure(api_key="' + "AIza" + "Sy" + "A1b2C3d4E5" * 3 + "xyz" + '")'),
        ("Kaggle API key", "%%writefile ~/.kaggle/kaggle.json\n" + json.dumps({"username": "ada", "key": hexkey})),
        ("Kaggle API key", 'os.environ["KAGGLE_' + 'KEY"] = "' + hexkey + '"'),
        ("AWS access key", 'AWS_ACCESS_KEY_ID = "' + "AKIA" + "QWERTYUIOPASDFGH" + '"'),
        ("AWS secret key", "aws_secret_" + "access_key = " + "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"),
        ("private key", "key = '''-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEow...\n'''"),
    ]


def test_check_finds_every_kind_of_secret(course_copy, course_cli):
    lesson = lessons(course_copy)[0]
    secrets = fake_secrets()
    first = len(notebooks.read_notebook(lesson)["cells"]) + 1
    edit_notebook(
        lesson,
        lambda nb: nb["cells"].extend(
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"leak-{i}",
                "metadata": {},
                "outputs": [],
                "source": text,
            }
            for i, (_, text) in enumerate(secrets)
        ),
    )
    result = course_cli("check", cwd=course_copy)
    assert result.returncode == 1
    lines = problem_lines(result, f"lessons/{lesson.name}")
    for cell, (kind, text) in enumerate(secrets, first):
        expected = (
            f"lessons/{lesson.name}: cell {cell} contains what looks like a secret ({kind}); fix: delete it, revoke"
        )
        assert any(line.startswith(expected) for line in lines), f"{kind} in cell {cell} not reported:\n{result.stdout}"
        assert text not in result.stdout
    assert len(lines) == len(secrets)


def test_check_ignores_tokens_read_from_colab_secrets(course_copy, course_cli):
    lesson = lessons(course_copy)[0]
    safe = (
        'from google.colab import userdata\nos.environ["KAGGLE_KEY"] = userdata.get("KAGGLE_KEY")\n'
        'login(token=os.environ["HF_TOKEN"])  # a token looks like hf_xxx'
    )
    edit_notebook(
        lesson,
        lambda nb: nb["cells"].append(
            {"cell_type": "code", "execution_count": None, "id": "safe", "metadata": {}, "outputs": [], "source": safe}
        ),
    )
    result = course_cli("check", cwd=course_copy)
    assert result.returncode == 0, result.stdout


def test_sync_strips_a_secret_printed_in_outputs(course_copy, course_cli):
    lesson = lessons(course_copy)[0]
    printed = "hf_" + "QwErTyUiOp" * 4
    edit_notebook(
        lesson,
        lambda nb: tagged_cell(nb, notebooks.PARAMETERS_TAG).update(
            outputs=[{"output_type": "stream", "name": "stdout", "text": [printed + "\n"]}], execution_count=1
        ),
    )
    assert "Hugging Face token" in course_cli("check", cwd=course_copy).stdout
    result = course_cli("sync", cwd=course_copy)  # stripping the output removes the leaked token
    assert result.returncode == 0, result.stdout
    assert printed not in lesson.read_text(encoding="utf-8")


def test_check_reports_stale_readme_table_and_badges(course_copy, course_cli):
    readme = course_copy / "README.md"
    config = load_config(course_copy)
    first = lessons(course_copy)[0].name
    text = readme.read_text(encoding="utf-8")
    readme.write_text(
        text.replace(config.colab_url(first), config.colab_url(first).replace("/blob/", "/tree/")), encoding="utf-8"
    )
    result = course_cli("check", cwd=course_copy)
    assert result.returncode == 1
    assert "README.md: the lesson table is out of date with lessons/; fix: run `course sync`" in result.stdout

    readme.write_text(text.replace("<!-- lessons:end -->", ""), encoding="utf-8")
    result = course_cli("check", cwd=course_copy)
    assert result.returncode == 1
    assert "README.md: no lesson table markers; fix: put a line `<!-- lessons:start -->`" in result.stdout


def test_check_reports_colab_link_to_a_missing_notebook(course_copy, course_cli):
    readme = course_copy / "README.md"
    missing = load_config(course_copy).colab_url("99_removed_lesson.ipynb")
    readme.write_text(readme.read_text(encoding="utf-8") + f"\nOld: [removed]({missing}).\n", encoding="utf-8")
    result = course_cli("sync", cwd=course_copy)
    assert result.returncode == 1
    assert (
        f"README.md: Colab link {missing} does not open a notebook of this repository; "
        "fix: point it at a notebook that exists here, or remove it"
    ) in result.stdout


def test_sync_follows_the_course_to_another_github_account(course_copy, course_cli):
    """After editing [tool.course], `course sync` updates setup cells, the table and other Colab links."""
    pyproject, readme = course_copy / "pyproject.toml", course_copy / "README.md"
    old = load_config(course_copy)
    first = lessons(course_copy)[0].name
    readme.write_text(
        readme.read_text(encoding="utf-8") + f"\nStart [here]({old.colab_url(first)}).\n", encoding="utf-8"
    )
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(
        text.replace(f'github_user = "{old.github_user}"', 'github_user = "new-org"'), encoding="utf-8"
    )
    new = load_config(course_copy)
    assert new.github_user == "new-org"

    result = course_cli("check", cwd=course_copy)
    assert result.returncode == 1
    assert f"lessons/{first}: the setup cell differs from the canonical one" in result.stdout
    assert "README.md: the lesson table is out of date with lessons/" in result.stdout
    assert (
        f"README.md: Colab link {old.colab_url(first)} does not open a notebook of this repository; "
        f"fix: run `course sync` (it becomes {new.colab_url(first)})"
    ) in result.stdout

    result = course_cli("sync", cwd=course_copy)
    assert result.returncode == 0, result.stdout
    assert course_cli("check", cwd=course_copy).returncode == 0
    assert f"Start [here]({new.colab_url(first)})." in readme.read_text(encoding="utf-8")
    assert f"github/{old.github_user}/" not in readme.read_text(encoding="utf-8")
    assert new.repo_url in notebooks.read_notebook(lessons(course_copy)[0])["cells"][0]["source"]


def test_check_reports_drive_duplicates(course_copy, course_cli):
    lesson = lessons(course_copy)[0]
    copy = lesson.with_name(f"{lesson.stem} (1).ipynb")
    shutil.copy2(lesson, copy)
    (course_copy / "snippets").mkdir(exist_ok=True)
    (course_copy / "snippets" / "utils.py").write_text("x = 1\n", encoding="utf-8")
    (course_copy / "snippets" / "utils (1).py").write_text("x = 2\n", encoding="utf-8")
    result = course_cli("check", cwd=course_copy)
    assert result.returncode == 1
    assert (
        f"lessons/{copy.name}: Google Drive duplicate of {lesson.name}; "
        f"fix: move any edits you want to keep into {lesson.name}, then delete this copy"
    ) in result.stdout
    assert "snippets/utils (1).py: Google Drive duplicate of utils.py" in result.stdout
    assert "NN_slug" not in result.stdout  # the copy is reported once, as a duplicate


def test_check_reports_lesson_numbering(course_copy, course_cli):
    *_, last = lessons(course_copy)
    number = int(last.name[:2])
    skipped = last.rename(last.with_name(f"{number + 2:02d}{last.name[2:]}"))
    shutil.copy2(skipped, skipped.with_name(f"{number + 2:02d}_again.ipynb"))
    shutil.copy2(skipped, skipped.with_name("7 Extra Lesson.ipynb"))
    result = course_cli("check", cwd=course_copy)
    assert result.returncode == 1
    assert f"lessons/: lesson numbers skip {number:02d}, {number + 1:02d}; fix: renumber" in result.stdout
    assert f"lessons/: lesson number {number + 2:02d} is used by 2 lessons" in result.stdout
    assert (
        "lessons/7 Extra Lesson.ipynb: lesson file name is not NN_slug.ipynb (two digits, lowercase ASCII, "
        "underscores); fix: rename it with `git mv 'lessons/7 Extra Lesson.ipynb' lessons/07_extra_lesson.ipynb`"
        in result.stdout
    )


def test_check_reports_unreadable_notebook(course_copy, course_cli):
    lesson = lessons(course_copy)[0]
    lesson.write_text('{"cells": [', encoding="utf-8")
    result = course_cli("check", cwd=course_copy)
    assert result.returncode == 1
    assert (
        f"lessons/{lesson.name}: cannot read the notebook: not valid JSON (line 1: " in result.stdout
        and f"fix: restore it with `git checkout -- lessons/{lesson.name}`" in result.stdout
    )
    assert "Traceback" not in result.stdout + result.stderr


def test_sync_saves_a_colab_edited_notebook_as_nbformat_4_5(course_copy, course_cli):
    """Colab saves nbformat 4.0 without cell ids, indented differently: sync gives it ids and Jupyter's format."""
    lesson = lessons(course_copy)[0]
    notebook = json.loads(lesson.read_text(encoding="utf-8"))
    notebook["nbformat_minor"] = 0
    for cell in notebook["cells"]:
        del cell["id"]
    lesson.write_text(json.dumps(notebook, indent=2), encoding="utf-8")
    result = course_cli("check", cwd=course_copy)
    assert result.returncode == 1
    assert (
        f"lessons/{lesson.name}: saved as nbformat 4.0, without cell ids (Colab does that); fix: run `course sync`"
    ) in result.stdout

    assert course_cli("sync", cwd=course_copy).returncode == 0
    saved = json.loads(lesson.read_text(encoding="utf-8"))
    assert saved["nbformat_minor"] == 5
    assert len({cell["id"] for cell in saved["cells"]}) == len(saved["cells"])
    assert lesson.read_bytes() == notebooks.notebook_bytes(notebooks.read_notebook(lesson))

    lesson.write_text(lesson.read_text(encoding="utf-8").replace('\n "', '\n  "'), encoding="utf-8")
    result = course_cli("sync", cwd=course_copy)
    assert f"fixed lessons/{lesson.name}: not saved in the canonical format" in result.stdout
    assert result.returncode == 0


# --- sync -------------------------------------------------------------------------------------


def test_sync_fixes_setup_cell_readme_metadata_and_outputs(course_copy, course_cli):
    first, *_, last = lessons(course_copy)
    edit_notebook(first, edit_setup_cell)
    edit_notebook(first, add_output)
    edit_notebook(last, drop_colab_metadata)
    edit_notebook(last, lambda nb: nb["cells"].pop(0))  # setup cell deleted altogether
    readme = course_copy / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace("| ", "|  ", 3), encoding="utf-8")

    result = course_cli("sync", cwd=course_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    for fixed in (
        f"fixed lessons/{first.name}: the setup cell differs",
        f"fixed lessons/{first.name}: outputs or execution counts committed",
        f"fixed lessons/{last.name}: the first cell is not the code cell tagged `setup`",
        f"fixed lessons/{last.name}: notebook metadata lacks colab",
        "fixed README.md: the lesson table is out of date",
    ):
        assert fixed in result.stdout
    check = course_cli("check", cwd=course_copy)
    assert check.returncode == 0, check.stdout
    for lesson in (first, last):
        cells = notebooks.read_notebook(lesson)["cells"]
        assert cells[0]["source"] == notebooks.setup_cell_source(load_config(course_copy))
        assert sum(notebooks.SETUP_TAG in c["metadata"].get("tags", []) for c in cells) == 1
    assert course_cli("sync", cwd=course_copy).stdout.startswith("all good: 0 fixed")


def test_sync_reports_what_it_cannot_fix(course_copy, course_cli):
    lesson = lessons(course_copy)[0]
    edit_notebook(lesson, add_output)
    edit_notebook(lesson, untag_parameters)
    result = course_cli("sync", cwd=course_copy)
    assert result.returncode == 1
    assert f"fixed lessons/{lesson.name}: outputs or execution counts committed" in result.stdout
    assert f"lessons/{lesson.name}: no code cell tagged `parameters`; fix: add one" in result.stdout
    assert result.stdout.rstrip().endswith("1 problem found")


# --- new --------------------------------------------------------------------------------------


def test_new_adds_numbered_lessons_with_unicode_titles(course_copy, course_cli):
    number = int(lessons(course_copy)[-1].name[:2])
    titles = {
        'Convolutions & "Pooling"': f"{number + 1:02d}_convolutions_pooling.ipynb",
        "Свёрточные сети: введение": f"{number + 2:02d}_svyortochnye_seti_vvedenie.ipynb",
        "卷积神经网络": f"{number + 3:02d}_lesson.ipynb",
    }
    config = load_config(course_copy)
    for title, name in titles.items():
        result = course_cli("new", title, cwd=course_copy)
        assert result.returncode == 0, result.stderr
        assert f"created lessons/{name}" in result.stdout
        notebook = notebooks.read_notebook(course_copy / "lessons" / name)
        assert notebook["cells"][0]["source"] == notebooks.setup_cell_source(config)
        assert f"# {title}" in "".join(cell["source"] for cell in notebook["cells"])
        readme = (course_copy / "README.md").read_text(encoding="utf-8")
        row = next(line for line in readme.splitlines() if f"(lessons/{name})" in line)
        assert f"[{title}](lessons/{name})" in row and "[![Open In Colab]" in row and config.colab_url(name) in row
    check = course_cli("check", cwd=course_copy)
    assert check.returncode == 0, check.stdout


@pytest.mark.parametrize(
    "title, slug",
    [
        ("Transfer Learning, Part 2!", "transfer_learning_part_2"),
        ("Éléments de Straße", "elements_de_strasse"),
        ("Київ і Ґанок", "kiyiv_i_ganok"),
        ("Νευρωνικά δίκτυα", "neyronika_diktya"),
        ("深度学习 101", "101"),
        ("🤖 → 🧠", "lesson"),
        ("x" * 80, "x" * 40),
    ],
)
def test_slugs_are_short_ascii_file_names(title, slug):
    assert slugify(title) == slug
    assert LESSON_NAME.fullmatch(f"07_{slug}.ipynb")


def test_new_refuses_empty_title_and_readme_without_table(course_copy, course_cli):
    before = lessons(course_copy)
    result = course_cli("new", "   ", cwd=course_copy)
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == 'course new: error: the lesson title is empty: give one, e.g. course new "Convolutions"'
    )

    readme = course_copy / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace("<!-- lessons:start -->", ""), encoding="utf-8")
    result = course_cli("new", "Attention", cwd=course_copy)
    assert result.returncode == 1
    assert result.stderr.startswith("course new: error: README.md has no lesson table markers: put a line")
    assert len(result.stderr.strip().splitlines()) == 1
    assert lessons(course_copy) == before  # nothing written
