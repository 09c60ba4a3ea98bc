"""Helpers for testing a course: build notebooks and tiny courses, run `course`, git, a loopback file server.

The course's own tests use them, and so can anything else that drives a course (the template's
tests, benchmarks). Nothing here is imported by lessons.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import notebooks

PACKAGE = __package__
SRC = Path(__file__).resolve().parents[1]
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Course Author",
    "GIT_AUTHOR_EMAIL": "teacher@example.com",
    "GIT_COMMITTER_NAME": "Course Author",
    "GIT_COMMITTER_EMAIL": "teacher@example.com",
}


# -- notebooks ------------------------------------------------------------------------------------
def lesson_notebook(*cells, parameters: str | None = None, kernelspec: dict | None = None) -> dict:
    """A notebook of code cells (``("md", text)`` for markdown, ``(["tag"], code)`` for tagged code),
    with a tagged parameters cell first."""
    built = []
    if parameters is not None:
        built.append(notebooks.code_cell(parameters, id="parameters", tags=[notebooks.PARAMETERS_TAG]))
    for index, cell in enumerate(cells):
        if isinstance(cell, tuple) and isinstance(cell[0], list):
            built.append(notebooks.code_cell(cell[1], id=f"cell-{index}", tags=cell[0]))
        elif isinstance(cell, tuple):
            built.append(notebooks.markdown_cell(cell[1], id=f"cell-{index}"))
        else:
            built.append(notebooks.code_cell(cell, id=f"cell-{index}"))
    metadata = {"kernelspec": dict(kernelspec or notebooks.KERNELSPEC), "language_info": {"name": "python"}}
    return {"cells": built, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def write_notebook(path: Path, *cells, parameters: str | None = None, kernelspec: dict | None = None) -> Path:
    """Write ``lesson_notebook(...)`` to ``path`` (folders created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    notebooks.write_notebook(path, lesson_notebook(*cells, parameters=parameters, kernelspec=kernelspec))
    return path


def edit_notebook(path: Path, change) -> None:
    """Change a notebook in memory (cell sources as strings) and save it the way Jupyter does."""
    notebook = notebooks.read_notebook(path)
    change(notebook)
    notebooks.write_notebook(path, notebook)


def tagged_cell(notebook: dict, tag: str) -> dict:
    return next(cell for cell in notebooks.cells(notebook) if notebooks.has_tag(cell, tag))


def add_output(cell: dict) -> None:
    """What running a cell in Colab leaves behind: an output, an execution count, Colab's cell metadata."""
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["42\n"]}]
    cell["execution_count"] = 7
    cell["metadata"].update(colab={"base_uri": "https://localhost:8080/"}, outputId="0f1e2d3c")


# -- courses ----------------------------------------------------------------------------------------
def tiny_course(root: Path, lessons: dict[str, dict] | None = None, *, title: str = "Tiny course", **settings) -> Path:
    """A course repository with a valid ``[tool.course]`` table and the given lessons (name -> notebook).

    ``settings`` are more ``[tool.course]`` values (``memory_budget_gb=0.5``). ``src/`` holds only a
    ``helper.py``; lessons import the course package from this interpreter.
    """
    root = Path(root)
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "src" / "helper.py").write_text("VALUE = 1\n", encoding="utf-8")
    (root / "pyproject.toml").write_text(
        "[tool.course]\n"
        f"title = {json.dumps(title, ensure_ascii=False)}\n"
        f'package = "{PACKAGE}"\n'
        'github_user = "teacher"\ngithub_repo = "tiny-course"\nbranch = "main"\ndrive_folder = "courses/tiny"\n'
        + "".join(f"{name} = {json.dumps(value)}\n" for name, value in settings.items()),
        encoding="utf-8",
    )
    (root / ".gitignore").write_text("data/\nbuild/\ncheckpoints/\n", encoding="utf-8")
    for name, notebook in (lessons or {}).items():
        path = root / "lessons" / f"{name}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        notebooks.write_notebook(path, notebook)
    return root


def course_env(**extra: str) -> dict:
    """This environment for a child that runs course code from ``src/``: no leftover ``COURSE_*`` settings."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("COURSE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))
    env.update(extra)
    return env


def course_cli(*args, cwd: Path, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `course ARGS...` in ``cwd`` through this interpreter, as a user would; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", PACKAGE, *map(str, args)],
        cwd=cwd,
        env=env or course_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def git(repo: Path, *args: str, env: dict | None = None) -> str:
    """Run git in ``repo`` with a fixed identity and no user or system config; its output, or AssertionError."""
    environment = {**(env or os.environ), **GIT_IDENTITY, "GIT_CONFIG_NOSYSTEM": "1"}
    environment.setdefault("GIT_CONFIG_GLOBAL", os.devnull)
    done = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        env=environment,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise AssertionError(f"git {' '.join(args)} failed in {repo}: {done.stderr.strip()}")
    return done.stdout.strip()


def python_interpreter(version: str) -> str | None:
    """An interpreter of Python ``version`` (``"3.12"``) on this machine: on PATH or under pyenv; None if absent."""
    import glob
    import shutil

    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates = sorted(glob.glob(os.path.join(pyenv_root, "versions", f"{version}.*", "bin", f"python{version}")))
    found = shutil.which(f"python{version}")
    for path in [*reversed(candidates), *([found] if found else [])]:
        probe = subprocess.run(
            [path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return path
    return None


# -- a fake Colab ------------------------------------------------------------------------------------
_FAKE_COLAB_INIT = '''"""Stand-in for google.colab. A mount marked dropped (<mount>/.dropped) fails like a dead FUSE mount."""
import errno, os

_listdir = os.listdir


def _listdir_like_colab(path="."):
    path = os.fspath(path)
    if os.path.basename(path) == "MyDrive" and os.path.exists(os.path.join(os.path.dirname(path), ".dropped")):
        raise OSError(errno.ENOTCONN, "Transport endpoint is not connected", path)
    return _listdir(path)


os.listdir = _listdir_like_colab
'''
_FAKE_MESSAGE = '''"""Stand-in for google.colab._message."""


class MessageError(RuntimeError):
    pass
'''
_FAKE_DRIVE = '''"""Stand-in for google.colab.drive: mount() creates <mountpoint>/MyDrive, or fails as FAKE_COLAB_DRIVE says."""
import os
from pathlib import Path

from google.colab._message import MessageError

MOUNTS = []  # (mountpoint, force_remount) of every call
FAILURES = {  # Colab's own messages
    "refuse": lambda: ValueError("mount failed"),
    "timeout": lambda: ValueError(
        "mount failed: timeout during initial read of root folder; for more info: "
        "https://research.google.com/colaboratory/faq.html#drive-timeout"
    ),
    "credentials": lambda: MessageError("Error: credential propagation was unsuccessful"),
}


def mount(mountpoint, force_remount=False, timeout_ms=120000, readonly=False):
    MOUNTS.append((mountpoint, force_remount))
    failure = FAILURES.get(os.environ.get("FAKE_COLAB_DRIVE", ""))
    if failure is not None:
        raise failure()
    if force_remount:
        (Path(mountpoint) / ".dropped").unlink(missing_ok=True)
    (Path(mountpoint) / "MyDrive").mkdir(parents=True, exist_ok=True)
'''


def write_fake_colab(folder: Path) -> Path:
    """A ``google.colab`` package in ``folder`` (``google`` stays a namespace package); put ``folder`` on
    the kernel's ``PYTHONPATH``. ``FAKE_COLAB_DRIVE=refuse|timeout|credentials`` makes ``drive.mount``
    fail with Colab's messages; a file ``<mount>/.dropped`` makes the mount fail like a dropped one.
    """
    package = Path(folder) / "google" / "colab"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(_FAKE_COLAB_INIT, encoding="utf-8")
    (package / "_message.py").write_text(_FAKE_MESSAGE, encoding="utf-8")
    (package / "drive.py").write_text(_FAKE_DRIVE, encoding="utf-8")
    return Path(folder)


# -- a file server on loopback ------------------------------------------------------------------------
class FileServer:
    """A real HTTP server on 127.0.0.1 serving in-memory files; ``url(name, route="ok")``.

    Routes: ``ok`` honours Range requests; ``drop-once`` breaks off halfway the first time;
    ``drop-always`` ignores Range and always breaks off halfway; ``wrong`` serves other bytes.
    Every request is recorded in ``requests`` as ``(path, Range header)``.
    """

    def __init__(self, files: dict[str, bytes]):
        self.files = dict(files)
        self.requests: list[tuple[str, str | None]] = []
        self.dropped = False
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def url(self, name: str, route: str = "ok") -> str:
        return f"{self.base}/{route}/{name}"

    def __enter__(self) -> FileServer:
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler(server: FileServer):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            server.requests.append((self.path, self.headers.get("Range")))
            route, _, name = self.path.lstrip("/").partition("/")
            body = server.files.get(name)
            if body is None or route not in ("ok", "drop-once", "drop-always", "wrong"):
                self.send_error(404)
                return
            if route == "wrong":
                body = bytes(reversed(body))
            dropping = route == "drop-always" or (route == "drop-once" and not server.dropped)
            start = 0
            if self.headers.get("Range") and route != "drop-always":
                start = int(self.headers["Range"].removeprefix("bytes=").rstrip("-"))
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
                self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            if dropping:
                server.dropped = True
                self.wfile.write(body[start : len(body) // 2])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self.wfile.write(body[start:])

        def log_message(self, *args):
            pass

    return Handler


def closed_port_url() -> str:
    """The URL of a port on 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def mnist_sample_archive() -> bytes:
    """A small ``.tgz`` shaped like fastai's MNIST_SAMPLE: ``mnist_sample/{train,valid}/{3,7}/*.png``
    plus ``labels.csv``. The images are scikit-learn's 8x8 digits enlarged to 28x28: no network needed.
    """
    import io
    import tarfile

    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    buffer = io.BytesIO()
    rows = ["name,label"]
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for label in (3, 7):
            for index, pixels in enumerate(digits.images[digits.target == label][:24]):
                split = "valid" if index % 4 == 0 else "train"
                name = f"{split}/{label}/{index:04d}.png"
                png = io.BytesIO()
                Image.fromarray((pixels * 255 / 16).astype(np.uint8)).resize((28, 28)).save(png, format="PNG")
                _add_file(tar, f"mnist_sample/{name}", png.getvalue())
                rows.append(f"{name},{int(label == 7)}")
        _add_file(tar, "mnist_sample/labels.csv", ("\n".join(rows) + "\n").encode())
    return buffer.getvalue()


def _add_file(tar, name: str, content: bytes) -> None:
    import io
    import tarfile

    info = tarfile.TarInfo(name)
    info.size = len(content)
    tar.addfile(info, io.BytesIO(content))
