#!/usr/bin/env bash
# Install the pinned tools into .venv (only when requirements-ci.txt changed), lint the template's
# own code with ruff, and run every template test on 2 workers. Extra arguments go to pytest,
# e.g. `bash test.sh --fast`. A lint failure is reported and the tests still run. `TORCH_CPU=1 bash test.sh`
# installs torch's CPU build instead (for machines without an NVIDIA GPU).
set -euo pipefail
cd "$(dirname "$0")"

python=${PYTHON:-$(command -v python3.11 || command -v python3)}
venv=.venv
stamp=$venv/.requirements-ci.sha256
requirements=requirements-ci.txt
index=()

if ! "$venv/bin/python" -c "" 2>/dev/null; then
    rm -rf "$venv"
    "$python" -m venv "$venv"
fi
if [ "${TORCH_CPU:-0}" = 1 ]; then
    # Machines without an NVIDIA GPU: torch's CPU build, without the nvidia-*, cuda-* and triton packages
    # of the CUDA build (about 4 GB less); everything else at the same pins.
    requirements=$venv/requirements-cpu.txt
    grep -vE '^(nvidia-|cuda-|triton==)' requirements-ci.txt > "$requirements"
    index=(--extra-index-url https://download.pytorch.org/whl/cpu)
fi
wanted=$("$python" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$requirements")
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "Installing $requirements into $venv (the first time: several minutes, several GB; progress below) ..."
    if ! "$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar on ${index[@]+"${index[@]}"} \
        -r "$requirements"; then
        [ ${#index[@]} -gt 0 ] || exit 1
        # PyTorch's CPU index could not be reached (or failed midway): PyPI's torch runs on a CPU too, only larger.
        echo "PyTorch's CPU index failed: installing PyPI's build of torch instead (about 4 GB more) ..." >&2
        requirements=requirements-ci.txt
        wanted=$("$python" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$requirements")
        "$venv/bin/python" -m pip uninstall --disable-pip-version-check -y -q torch torchvision || true  # no broken pair
        "$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar on -r "$requirements"
    fi
    echo "$wanted" > "$stamp"
fi

# The website tests drive a real Chromium and the grading tests a real sandbox (bubblewrap): CI installs
# Debian's when they are missing (as root).
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v bwrap >/dev/null || missing+=(bubblewrap)
if [ "${CI:-}" = true ] && [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "Installing ${missing[*]} for the website and grading tests (apt-get, about a minute) ..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
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
