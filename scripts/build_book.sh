#!/usr/bin/env bash
# Install everything (into .venv) and build the website from the committed notebooks.
source "$(dirname "$0")/_env.sh"
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}   # the build executes nothing; never wait on the hub
jupyter-book build . -W -n --keep-going
echo
echo "The book is at: $(pwd)/_build/html/index.html"
