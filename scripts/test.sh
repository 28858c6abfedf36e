#!/usr/bin/env bash
# Install the contributor's set (requirements-dev.txt, into .venv) and run the whole test suite:
# lint, unit tests, every notebook under nbval (fast mode), the online path against a local stand-in
# for the 🤗 hub, the website build and the browser test.
t_install=$SECONDS
REQUIREMENTS=requirements-dev.txt
source "$(dirname "$0")/_env.sh"
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}
times=("$(printf '%-22s %4d s' "install (.venv)" $((SECONDS - t_install)))")
stage() {  # stage NAME COMMAND...: run, time, remember
    local name=$1; shift
    echo "== $name"
    local t0=$SECONDS
    "$@"
    times+=("$(printf '%-22s %4d s' "$name" $((SECONDS - t0)))")
}
stage "lint (ruff)"        ruff check .
stage "format (ruff)"      ruff format --check .
stage "unit tests"         python -m pytest -q -m "not site and not online" tests
stage "notebooks (nbval)"  env LMTUTOR_FAST=1 python -m pytest -q --nbval-lax --nbval-current-env \
                               --nbval-cell-timeout=600 -p no:cacheprovider notebooks
# the online path, as readers with internet take it: a local stand-in for the 🤗 hub on 127.0.0.1
stage "online (stand-in hub)" python -m pytest -q -m online -p no:cacheprovider tests
stage "site: build+browser" python -m pytest -q -m site tests
echo "== timings"
printf '%s\n' "${times[@]}"
