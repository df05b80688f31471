"""Run gigqctl as a user does: the installed console script, in a directory, from a shell."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

BIN = Path(sys.executable).parent


def ctl(folder: Path, *args: str, env: dict | None = None, check: bool = True, program: str = "gigqctl",
        timeout: float = 60) -> subprocess.CompletedProcess:
    environment = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    environment.pop("GIGQ_DB", None) if env is None or "GIGQ_DB" not in env else None
    result = subprocess.run([str(BIN / program), *args], cwd=folder, env=environment, capture_output=True,
                            text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"gigqctl {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def job_id_from(output: str) -> str:
    assert output.startswith("Job submitted: "), output
    return output.split(": ", 1)[1].strip()
