"""Root pytest configuration (also used by `pytest --nbval-lax notebooks`): never wait on the hub."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
