#!/usr/bin/env bash
# Install the reader's set (requirements.txt, into .venv) and build the website from the committed notebooks.
REQUIREMENTS=requirements.txt
source "$(dirname "$0")/_env.sh"
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}   # the build executes nothing; never wait on the hub
jupyter-book build . -W -n --keep-going
echo
echo "The book is at: $(pwd)/_build/html/index.html"
echo "Serve it to read it (search needs a server; opened from disk it finds page titles only):"
echo "    python -m http.server -d _build/html 8000"
echo "then open http://localhost:8000 in your browser (Ctrl+C stops the server)."
