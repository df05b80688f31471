"""Where things are: the bench folder, the repository, the peers' applications."""

from __future__ import annotations

import os

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
REPO = os.path.dirname(BENCH)
CLIENT = os.path.join(HERE, "client.py")
APPS = os.path.join(HERE, "apps")
