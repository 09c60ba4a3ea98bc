"""Jinja filters of the template (cookiecutter loads this file by its `_extensions` entry).

Standard library only: it runs inside cookiecutter's (or cruft's) own interpreter.
"""

import json

from cookiecutter.utils import simple_filter


@simple_filter
def toml_string(value) -> str:
    """An answer as a TOML basic string: quotes, backslashes and control characters escaped,
    everything else (accents, Cyrillic, CJK) kept as typed.

    JSON's escapes are all valid TOML; DEL is the one character TOML forbids raw that JSON leaves.
    """
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")
