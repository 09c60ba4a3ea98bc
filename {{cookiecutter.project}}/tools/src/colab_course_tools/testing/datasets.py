"""Small datasets built on the spot, shaped like the ones lessons download: no network needed."""

from __future__ import annotations


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
