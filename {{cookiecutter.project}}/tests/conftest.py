"""Shared fixtures. The package is imported from src/ (see pytest `pythonpath`), installed or not."""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = "{{ cookiecutter.package }}"


@pytest.fixture
def subprocess_env():
    """Environment for child processes (kernels, `python -m <package>`) that import the course package."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env.pop("COURSE_ROOT", None)
    return env


@pytest.fixture
def course_cli(subprocess_env):
    """Run `course ...` as a user would, through the current interpreter."""
    import subprocess

    def run(*args, cwd=ROOT, env=None, timeout=600):
        return subprocess.run(
            [sys.executable, "-m", PACKAGE, *map(str, args)],
            cwd=cwd, env=env or subprocess_env, capture_output=True, text=True, timeout=timeout,
        )

    return run


def _write_mnist_sample_archive(folder: Path) -> Path:
    """A small archive shaped like fastai's MNIST_SAMPLE: mnist_sample/{train,valid}/{3,7}/*.png + labels.csv.

    The images are scikit-learn's 8x8 digits enlarged to 28x28, so no network is needed.
    """
    import tarfile

    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    content = folder / "mnist_sample"
    rows = ["name,label"]
    for label in (3, 7):
        images = digits.images[digits.target == label][:24]
        for index, pixels in enumerate(images):
            split = "valid" if index % 4 == 0 else "train"
            name = f"{split}/{label}/{index:04d}.png"
            (content / name).parent.mkdir(parents=True, exist_ok=True)
            image = Image.fromarray((pixels * 255 / 16).astype(np.uint8)).resize((28, 28))
            image.save(content / name)
            rows.append(f"{name},{int(label == 7)}")
    (content / "labels.csv").write_text("\n".join(rows) + "\n")
    archive = folder / "mnist_sample-test.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(content, arcname="mnist_sample")
    return archive


@pytest.fixture(scope="session")
def mnist_sample_server(tmp_path_factory):
    """Serves a small MNIST_SAMPLE-shaped archive over real HTTP on 127.0.0.1; yields its url and sha256."""
    import functools
    import hashlib
    import http.server
    import threading
    from types import SimpleNamespace

    folder = tmp_path_factory.mktemp("mnist-sample-server")
    archive = _write_mnist_sample_archive(folder)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(
            url=f"http://127.0.0.1:{server.server_port}/{archive.name}",
            sha256=hashlib.sha256(archive.read_bytes()).hexdigest(),
            archive=archive,
        )
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def lesson_overrides(mnist_sample_server):
    """Parameters, besides smoke=True, that each lesson needs in a test run: {lesson stem: {name: value}}."""
    return {
        "00_environment": {},
        "01_first_model": {},
        "02_data_and_checkpoints": {
            "data_url": mnist_sample_server.url,
            "data_sha256": mnist_sample_server.sha256,
        },
    }
