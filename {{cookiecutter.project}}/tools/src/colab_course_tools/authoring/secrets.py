"""Secrets that must never be committed: looked for in every file git would commit, and never printed.

The files are those git tracks plus the untracked ones it does not ignore (``kaggle.json``,
``.env`` and key files are ignored by the course's ``.gitignore``, and found here too if not).
A notebook is read as its cells (source, outputs, metadata; images skipped) and its metadata.
The formats come from detect-secrets' detectors (AWS, Azure, GitHub, GitLab, JWT, npm, OpenAI,
private keys, PyPI, SendGrid, Slack, Stripe, Telegram, Twilio, Discord, ...) plus rules of the
course for what it leaves out: Hugging Face, Google API keys and OAuth client secrets, Kaggle,
Weights & Biases, GitHub's fine-grained tokens, labelled AWS secret keys.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..git import GitFailed, git

COURSE_RULES = {
    "GitHub token": r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})",
    "GitLab token": r"\bglpat-[A-Za-z0-9_-]{20,}",
    "Hugging Face token": r"\bhf_[A-Za-z0-9]{30,}",
    "OpenAI-style API key": r"\bsk-(?:proj-|svcacct-|ant-)?[A-Za-z0-9_-]{32,}",
    "Google API key": r"\bAIza[0-9A-Za-z_-]{35}\b",
    "Google OAuth client secret": r"\bGOCSPX-[A-Za-z0-9_-]{24,}",
    "Kaggle API key": r"(?:[\"']key[\"']\s*:\s*[\"']|KAGGLE_KEY\W{1,8})[0-9a-f]{32}\b",
    "Weights & Biases API key": r"(?i)(?:wandb\.login\([^)]*key\s*=\s*|WANDB_API_KEY\W{1,8})[\"']?[0-9a-f]{40}\b",
    "AWS secret key": r"(?i)aws_secret_access_key\W{1,8}[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])",
    "private key": r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----",
}
_RULES = {kind: re.compile(pattern) for kind, pattern in COURSE_RULES.items()}
DETECT_SECRETS_PLUGINS = (
    "AWSKeyDetector", "ArtifactoryDetector", "AzureStorageKeyDetector", "BasicAuthDetector", "CloudantDetector",
    "DiscordBotTokenDetector", "GitHubTokenDetector", "GitLabTokenDetector", "IbmCosHmacDetector",
    "JwtTokenDetector", "MailchimpDetector", "NpmDetector", "OpenAIDetector", "PrivateKeyDetector",
    "PypiTokenDetector", "SendGridDetector", "SlackDetector", "SoftlayerDetector", "SquareOAuthDetector",
    "StripeDetector", "TelegramBotTokenDetector", "TwilioKeyDetector",
)  # fmt: skip
_SKIPPED_FOLDERS = {".git", ".venv", "venv", "build", "data", "checkpoints", "__pycache__", ".ipynb_checkpoints"}
MAX_BYTES = 20 * 2**20  # a larger file is data, not code someone typed a token into


def course_files(root: Path) -> list[Path]:
    """Every file git would commit: tracked, or untracked and not ignored (outside git: all but build folders)."""
    try:
        listed = git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", raw=True)
        return sorted({root / name for name in listed.split("\0") if name and (root / name).is_file()})
    except GitFailed:
        pass
    return sorted(
        path for path in root.rglob("*") if path.is_file() and not _SKIPPED_FOLDERS & set(path.relative_to(root).parts)
    )


def scan(files: list[Path]) -> list[tuple[Path, str, str]]:
    """``(file, where, kind)`` for each secret-looking string: where is "cell 3", "the notebook metadata", "line 12"."""
    try:
        from detect_secrets.core.scan import scan_line
        from detect_secrets.settings import transient_settings
    except ImportError:  # the course's own rules still run; `course check` says what is missing
        scan_line, transient_settings = None, None
    found = []
    settings = {"plugins_used": [{"name": name} for name in DETECT_SECRETS_PLUGINS]}
    with transient_settings(settings) if transient_settings else _nothing():
        for path in files:
            for where, text in _parts(path):
                kinds = [kind for kind, rule in _RULES.items() if rule.search(text)]
                if scan_line is not None:
                    kinds += [secret.type for line in text.splitlines() for secret in scan_line(line)]
                found += [(path, where, kind) for kind in dict.fromkeys(kinds)]
    return found


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _parts(path: Path) -> list[tuple[str, str]]:
    """The file as (where, text) pieces: a notebook's cells and metadata, another file's lines."""
    try:
        if path.stat().st_size > MAX_BYTES:
            return []
        raw = path.read_bytes()
    except OSError:
        return []
    if b"\0" in raw[:8192]:
        return []  # binary
    text = raw.decode("utf-8", errors="replace")
    parts = _notebook_parts(text) if path.suffix == ".ipynb" else None
    return parts if parts is not None else [(f"line {n}", line) for n, line in enumerate(text.splitlines(), 1)]


def _notebook_parts(text: str) -> list[tuple[str, str]] | None:
    try:
        notebook = json.loads(text)
    except ValueError:
        return None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        return None
    parts = [(f"cell {i}", "\n".join(_strings(cell))) for i, cell in enumerate(notebook["cells"], 1)]
    parts.append(("the notebook metadata", "\n".join(_strings(notebook.get("metadata", {})))))
    return parts


def _strings(value, key: str = "") -> list[str]:
    """Every string inside a JSON value, images left out (base64 pictures are no secrets)."""
    if key.startswith("image/"):
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for name, item in value.items() for s in _strings(item, str(name))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []
