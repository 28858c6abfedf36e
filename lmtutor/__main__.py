"""``python -m lmtutor ...``: the same as the ``lmtutor`` command."""

import sys

from .cli import main

sys.exit(main())
