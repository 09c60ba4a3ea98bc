"""`course new`, `course check` and `course sync`, run as a teacher would, on copies of this repository."""

import base64
import difflib
import json
import re
import shutil

import pytest

from colab_course_tools import notebooks
from colab_course_tools.authoring.naming import slugify
from colab_course_tools.config import load_config
from colab_course_tools.lessons import LESSON_NAME
from colab_course_tools.lessons import lesson_files as lessons
from colab_course_tools.setup_cell import setup_cell_source
from colab_course_tools.testing import add_output as add_cell_output
from colab_course_tools.testing import edit_notebook, git, lesson_notebook, tagged_cell
from course_under_test import ROOT


@pytest.fixture
def course_copy(tmp_path):
    """What `course check` looks at, copied: pyproject.toml, README.md, the pre-commit hooks, lessons/, snippets/, student/."""
    copy = tmp_path / "course"
    copy.mkdir()
    for name in ("pyproject.toml", "README.md", ".pre-commit-config.yaml"):
        shutil.copy2(ROOT / name, copy / name)
    for name in ("lessons", "snippets", "student"):
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
    "outputs": (add_output, "outputs, execution counts or run metadata committed", "course sync"),
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


def fake_secrets() -> list[tuple[str, str]]:
    """(format, a line holding one) for 26 common formats, assembled here so that this file itself holds none."""
    hexkey = "0123456789abcdef" * 2

    def b64(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    jwt = ".".join(
        [b64({"alg": "HS256", "typ": "JWT"}), b64({"sub": "1234567890"}), "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"]
    )
    quotes = "'" * 3
    return [
        ("GitHub token", 'token = "' + "ghp_" + "aB3dE5gH7j" * 4 + '"'),
        ("GitHub fine-grained token", 'token = "' + "github_" + "pat_" + "11ABCDEFG0" * 3 + "_" + "xYz12" * 12 + '"'),
        ("GitLab token", "!git clone https://oauth2:" + "glpat-" + "xY7zW6vU5tS4rQ3pO2nM" + "@gitlab.com/a/b.git"),
        ("Hugging Face token", 'login("' + "hf_" + "QwErTyUiOp" * 4 + '")'),
        ("OpenAI key", 'client = OpenAI(api_key="' + "sk-" + "proj-" + "Zx9Cv8Bn7M" * 5 + '")'),
        ("Anthropic key", 'client = Anthropic(api_key="' + "sk-" + "ant-api03-" + "Zx9Cv8Bn7M" * 9 + '")'),
        ("Google API key", 'genai.configure(api_key="' + "AIza" + "Sy" + "A1b2C3d4E5" * 3 + "xyz" + '")'),
        ("Google OAuth client secret", '"client_secret": "' + "GOCSPX" + "-aB3dE5gH7jK9mN1pQ3sT5vW7yZ" + '"'),
        ("Kaggle kaggle.json", "%%writefile ~/.kaggle/kaggle.json\n" + json.dumps({"username": "ada", "key": hexkey})),
        ("Kaggle environment variable", 'os.environ["KAGGLE_' + 'KEY"] = "' + hexkey + '"'),
        ("AWS access key", 'AWS_ACCESS_KEY_ID = "' + "AKIA" + "QWERTYUIOPASDFGH" + '"'),
        ("AWS secret key, labelled", "aws_secret_" + "access_key = " + "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"),
        (
            "AWS secret key, unlabelled",
            's3 = boto3.client("s3", "'
            + "AKIA"
            + "QWERTYUIOPASDFGH"
            + '", "'
            + "wJalrXUtnFEMI/K7MDENG/"
            + 'bPxRfiCYEXAMPLEKEY")',
        ),
        ("RSA private key", "key = " + quotes + "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEow...\n" + quotes),
        ("OpenSSH private key", "-----BEGIN " + "OPENSSH PRIVATE KEY-----"),
        ("Slack token", 'SLACK_TOKEN = "' + "xoxb" + "-123456789012-1234567890123-" + "aBcDeFgHiJkLmNoPqRsTuVwX" + '"'),
        ("Slack webhook", 'hook = "https://hooks.slack.com/' + "services/T00000000/B00000000/" + "X" * 24 + '"'),
        ("Stripe key", 'stripe.api_key = "' + "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc" + '"'),
        ("JSON Web Token", 'headers = {"Authorization": "Bearer ' + jwt + '"}'),
        (
            "PyPI token",
            "password = "
            + "pypi-"
            + "AgEIcHlwaS5vcmc"
            + "CJGE3YmM0ZTA4LTk5OGYtNDdmMy1hOTI3LTg1NmVkMDk2YjAyZQACKlsz" * 3,
        ),
        (
            "Azure connection string",
            'conn = "DefaultEndpointsProtocol=https;AccountName=course;'
            + "Account"
            + "Key="
            + "lJzRc1YdHaAA2KCNJJ1tkYwF/+mKK6Ygw0NGe170Xu592euJv2wYUtBlV8z+qnlcNQSnIYVTkLWntUO1F8j8rQ=="
            + ';EndpointSuffix=core.windows.net"',
        ),
        ("Weights & Biases key", "wandb.login(" + 'key="' + "9f8e7d6c5b4a" * 3 + 'abcd")'),
        (
            "SendGrid key",
            'SENDGRID_API_KEY = "'
            + "SG."
            + "ngeVfQFYQlKU0ufo8x5d1A"
            + "."
            + "TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr"
            + '"',
        ),
        ("Telegram bot token", 'bot = Bot("' + "123456789" + ":AAE" + "x" * 32 + '")'),
        (
            "Discord bot token",
            'client.run("' + "MTk4NjIyNDgzNDcxOTI1MjQ4" + ".Cl2FMQ." + "ZnCjm1XVW7vRze4b7Cq4se7kKWs" + '")',
        ),
        ("npm token", "//registry.npmjs.org/:_authToken=" + "npm_" + "aB3dE5gH7jK9mN1pQ3sT5vW7yZ0bC2dE4fG6"),
    ]


def test_check_finds_at_least_24_of_26_secret_formats_in_cells_and_never_prints_them(course_copy, course_cli):
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
    reported = {
        cell
        for cell in range(first, first + len(secrets))
        if any(
            line.startswith(f"lessons/{lesson.name}: cell {cell} contains what looks like a secret (") for line in lines
        )
    }
    missed = [kind for cell, (kind, _) in enumerate(secrets, first) if cell not in reported]
    assert len(missed) <= 2, f"missed: {missed}"
    for _, text in secrets:
        for token in re.findall(r"[A-Za-z0-9_+/=.-]{20,}", text):
            assert token not in result.stdout + result.stderr, "a secret must never be printed"


@pytest.mark.parametrize(
    "where", [".env", "src/settings.py", "tests/test_keys.py", "notes/scratch.ipynb", "kaggle.json"]
)
def test_check_looks_in_every_file_not_only_lessons(course_copy, course_cli, where):
    _, text = fake_secrets()[3]  # a Hugging Face token
    path = course_copy / where
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".ipynb":
        notebooks.write_notebook(path, lesson_notebook("print(1)"))
        stream = {"output_type": "stream", "name": "stdout", "text": text}
        edit_notebook(path, lambda nb: nb["cells"][0].update(outputs=[stream]))
    else:
        path.write_text(f"# notes\n{text}\n")
    result = course_cli("check", cwd=course_copy)
    where_in_file = "cell 1" if path.suffix == ".ipynb" else "line 2"
    assert f"{where}: {where_in_file} contains what looks like a secret (Hugging Face token" in result.stdout


def test_in_a_git_repository_files_git_ignores_are_not_scanned_and_tracked_ones_are(course_copy, course_cli):
    shutil.copy(ROOT / ".gitignore", course_copy / ".gitignore")
    git(course_copy, "init", "-q")
    (course_copy / "kaggle.json").write_text(json.dumps({"username": "ada", "key": "0123456789abcdef" * 2}))
    assert "kaggle.json" not in course_cli("check", cwd=course_copy).stdout, ".gitignore keeps it out of git"
    git(course_copy, "add", "-f", "kaggle.json")
    found = course_cli("check", cwd=course_copy).stdout
    assert "kaggle.json: line 1 contains what looks like a secret (Kaggle API key" in found


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
    (course_copy / "snippets" / "helpers (1).py").write_text("x = 3\n", encoding="utf-8")
    assert (
        "snippets/helpers (1).py: a Google Drive copy's name, with no helpers.py beside it: nothing imports or "
        "opens it; fix: rename it: git mv 'snippets/helpers (1).py' 'snippets/helpers.py'"
    ) in course_cli("check", cwd=course_copy).stdout


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
        f"fixed lessons/{first.name}: outputs, execution counts or run metadata committed",
        f"fixed lessons/{last.name}: the first cell is not the code cell tagged `setup`",
        f"fixed lessons/{last.name}: notebook metadata lacks colab",
        "fixed README.md: the lesson table is out of date",
    ):
        assert fixed in result.stdout
    check = course_cli("check", cwd=course_copy)
    assert check.returncode == 0, check.stdout
    for lesson in (first, last):
        cells = notebooks.read_notebook(lesson)["cells"]
        assert cells[0]["source"] == setup_cell_source(load_config(course_copy))
        assert sum(notebooks.SETUP_TAG in c["metadata"].get("tags", []) for c in cells) == 1
    assert course_cli("sync", cwd=course_copy).stdout.startswith("all good: 0 fixed")


def test_sync_shows_what_it_changes_in_an_edited_setup_cell_and_keeps_the_lesson_as_it_was(course_copy, course_cli):
    lesson = lessons(course_copy)[0]
    edit_notebook(lesson, edit_setup_cell)
    edited = lesson.read_bytes()
    result = course_cli("sync", cwd=course_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "its edited setup cell was replaced" in line)
    assert lines[start].startswith(f"lessons/{lesson.name}: its edited setup cell was replaced by the canonical one")
    backups = list((course_copy / "build" / "sync-backup").glob(f"*/{lesson.name}"))
    assert len(backups) == 1 and backups[0].read_bytes() == edited, "the lesson as it was, byte for byte"
    assert lines[start].endswith(f"is in {backups[0].relative_to(course_copy)}:")
    assert lines[start + 1 : start + 3] == ["--- your setup cell", "+++ the canonical setup cell"]
    assert "-print('edited')" in lines[start + 3 :]
    assert notebooks.read_notebook(lesson)["cells"][0]["source"] == setup_cell_source(load_config(course_copy))


def test_sync_reports_what_it_cannot_fix(course_copy, course_cli):
    lesson = lessons(course_copy)[0]
    edit_notebook(lesson, add_output)
    edit_notebook(lesson, untag_parameters)
    result = course_cli("sync", cwd=course_copy)
    assert result.returncode == 1
    assert f"fixed lessons/{lesson.name}: outputs, execution counts or run metadata committed" in result.stdout
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
        assert notebook["cells"][0]["source"] == setup_cell_source(config)
        heading = f"{name[:2]} · {title}"
        assert notebook["cells"][1]["source"].startswith(f"# {heading}\n"), "the shipped lessons' style"
        assert [cell["source"].split("\n")[0] for cell in notebook["cells"][3:4]] == ["## 1. First step"]
        readme = (course_copy / "README.md").read_text(encoding="utf-8")
        row = next(line for line in readme.splitlines() if f"(lessons/{name})" in line)
        assert f"[{heading}](lessons/{name})" in row and "[![Open In Colab]" in row and config.colab_url(name) in row
    check = course_cli("check", cwd=course_copy)
    assert check.returncode == 0, check.stdout


def test_new_adds_one_line_to_the_readme_and_changes_no_other(course_copy, course_cli):
    """A review of the commit that adds a lesson shows one new table row, not every badge line re-padded."""
    before = (course_copy / "README.md").read_text(encoding="utf-8").splitlines()
    assert course_cli("new", "A much longer lesson title than any before it", cwd=course_copy).returncode == 0
    after = (course_copy / "README.md").read_text(encoding="utf-8").splitlines()
    changes = [line for line in difflib.ndiff(before, after) if line[:2] in ("+ ", "- ")]
    assert len(changes) == 1 and changes[0].startswith("+ | ") and "much longer lesson title" in changes[0], changes


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


def test_an_executed_copy_put_back_in_lessons_is_flagged_and_cleaned(course_copy, course_cli, tmp_path):
    import papermill

    lesson = lessons(course_copy)[-1]
    executed = tmp_path / lesson.name
    papermill.execute_notebook(
        str(lesson), str(executed), parameters={"smoke": True}, prepare_only=True, progress_bar=False
    )
    shutil.copy(executed, lesson)  # what "save the executed notebook over the lesson" does
    injected_at = next(
        number
        for number, cell in enumerate(notebooks.read_notebook(lesson)["cells"], 1)
        if notebooks.has_tag(cell, notebooks.INJECTED_TAG)
    )
    result = course_cli("check", cwd=course_copy)
    assert result.returncode == 1
    assert (
        f"lessons/{lesson.name}: an executed copy: it holds papermill's injected-parameters cell (cell {injected_at}) "
        "and papermill's run metadata; fix: run `course sync`"
    ) in result.stdout
    assert course_cli("sync", cwd=course_copy).returncode == 0
    cleaned = notebooks.read_notebook(lesson)
    assert not [cell for cell in cleaned["cells"] if notebooks.has_tag(cell, notebooks.INJECTED_TAG)]
    assert "papermill" not in cleaned["metadata"] and "smoke = True" not in json.dumps(cleaned)
    assert course_cli("check", cwd=course_copy).returncode == 0


def test_outputs_are_checked_by_nbstripout_itself_with_the_hooks_flags(course_copy, course_cli):
    lesson = lessons(course_copy)[0]

    def run_metadata(notebook):
        notebook["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
        notebook["cells"][1]["metadata"]["execution"] = {"iopub.execute_input": "2026-11-29T10:00:00.000Z"}

    edit_notebook(lesson, run_metadata)
    result = course_cli("check", cwd=course_copy)
    assert f"lessons/{lesson.name}: outputs, execution counts or run metadata committed" in result.stdout
    assert course_cli("sync", cwd=course_copy).returncode == 0
    assert course_cli("check", cwd=course_copy).returncode == 0
    assert "widgets" not in notebooks.read_notebook(lesson)["metadata"]
