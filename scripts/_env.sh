# Sourced by the scripts in this folder: a virtual environment in .venv with the tested stack.
# The script sets REQUIREMENTS first: requirements.txt (the reader's set: notebooks and website) or
# requirements-dev.txt (that set plus tests, lint and grading tools).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
REQUIREMENTS=${REQUIREMENTS:-requirements.txt}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
# The stamp: first line, a checksum of every file that defines the stack; then one line per
# requirements file installed with exactly those files. A changed file makes everything stale.
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt requirements-dev.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(head -n 1 "$stamp")" != "$want" ]; then
    echo "$want" > "$stamp"
fi
# requirements-dev.txt includes requirements.txt: once it is installed, both are.
if ! grep -qxF "$REQUIREMENTS" "$stamp" && ! grep -qxF requirements-dev.txt "$stamp"; then
    echo "== installing the tested stack ($REQUIREMENTS) into .venv"
    python -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    echo "$REQUIREMENTS" >> "$stamp"
fi
