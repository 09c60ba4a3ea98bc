#!/usr/bin/env bash
# Install the pinned tools into .venv (only when requirements-ci.txt changed), lint the template's
# own code with ruff, and run every template test on 2 workers. Extra arguments go to pytest,
# e.g. `bash test.sh --fast`. A lint failure is reported and the tests still run.
set -euo pipefail
cd "$(dirname "$0")"

python=${PYTHON:-$(command -v python3.11 || command -v python3)}
venv=.venv
stamp=$venv/.requirements-ci.sha256
wanted=$("$python" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' requirements-ci.txt)

if ! "$venv/bin/python" -c "" 2>/dev/null; then
    rm -rf "$venv"
    "$python" -m venv "$venv"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "Installing requirements-ci.txt into $venv ..."
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-ci.txt
    echo "$wanted" > "$stamp"
fi

lint=0
lint_paths="hooks tests benchmarks local_extensions.py"
# The generated course's files are linted on a bake (tests/test_lint.py): they hold Jinja here.
"$venv/bin/python" -m ruff check $lint_paths || lint=$?
"$venv/bin/python" -m ruff format --check $lint_paths || lint=$?

status=0
"$venv/bin/python" -m pytest tests -n 2 "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "ERROR: pytest collected no tests; check that tests/ exists and the arguments select some" >&2
    exit 1
fi
if [ "$status" -eq 0 ] && [ "$lint" -ne 0 ]; then
    echo "ERROR: ruff found problems in the template's own code (see above): run" \
        "\`.venv/bin/ruff check --fix $lint_paths && .venv/bin/ruff format $lint_paths\`" >&2
    exit 1
fi
exit "$status"
