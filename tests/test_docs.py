"""Every code example in README.md and docs/*.md is executed, so the docs cannot lie.

Per document, in a fresh directory and in order:
- a block whose info string says file=NAME is written to NAME;
- every other ```python block runs in one namespace shared by the document;
- a ```sh block runs line by line in bash, except the commands in NOT_RUN_HERE,
  which set up the project itself and are exercised by CI (`make test` is CI);
- `gigqd` run in the foreground (not `gigqd check`) is started in the background
  for the rest of the document, then stopped with TERM, and must exit 0;
- `export NAME=VALUE` in a ```sh block holds for the document's later commands;
- EXAMPLE_URL, the server docs/postgres.md names, becomes a fresh database of the
  test session's PostgreSQL server wherever a block that runs names it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.S | re.M)
NOT_RUN_HERE = [
    re.compile(pattern)
    for pattern in (
        r"^make test\b", r"^make bench\b", r"^make chaos\b", r"^git clone\b", r"^cd gigq$",
        r"^make demo\b",  # run by tests/integration/test_demo.py, from the repository
        # administering the machine itself (docs/deploy.md): users, packages, systemd
        r"^sudo\b", r"^systemctl\b", r"^journalctl\b",
    )
]


EXAMPLE_URL = "postgresql://gigq@db.example.com/jobs"
EXPORT = re.compile(r"^export (\w+)=(\S+)$")
RUNNABLE = ("python", "sh", "bash", "console")


def blocks(document: Path):
    for match in FENCE.finditer(document.read_text()):
        language, info, body = match.group(1), match.group(2), match.group(3)
        attributes = dict(re.findall(r"(\w+)=(\S+)", info))
        yield language, attributes, body


def _names_example_server(document: Path) -> bool:
    return any(EXAMPLE_URL in body for language, attributes, body in blocks(document)
               if language in RUNNABLE or "file" in attributes)


def test_every_document_has_examples_to_run():
    assert ROOT / "README.md" in DOCUMENTS
    assert all(any(True for _ in blocks(doc)) for doc in DOCUMENTS if doc.name != "benchmarks.md")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_document_examples_run(document, tmp_path, monkeypatch, request):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    server = request.getfixturevalue("postgres_url") if _names_example_server(document) else EXAMPLE_URL
    namespace = {"__name__": "__doc_example__"}
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    before = set(sys.modules)
    daemons: list[subprocess.Popen] = []
    try:
        for language, attributes, body in blocks(document):
            body = body.replace(EXAMPLE_URL, server)
            if "file" in attributes:
                (tmp_path / attributes["file"]).write_text(body)
            elif language == "python":
                exec(compile(body, f"{document.name} example", "exec"), namespace)
            elif language in RUNNABLE:
                _run_shell(body, tmp_path, document.name, daemons, env)
        for daemon in daemons:
            daemon.terminate()
            assert daemon.wait(timeout=60) == 0, f"{document.name}: gigqd did not stop cleanly"
    finally:
        for daemon in daemons:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
        for name in set(sys.modules) - before:  # example modules must not leak between documents
            if getattr(sys.modules[name], "__file__", "") and str(tmp_path) in sys.modules[name].__file__:
                del sys.modules[name]


FOREGROUND_DAEMON = re.compile(r"^gigqd(?! check)\b")


def _run_shell(body: str, folder: Path, label: str, daemons: list, env: dict) -> None:
    for line in body.splitlines():
        command = line.split("#", 1)[0].strip()
        if not command or any(pattern.search(command) for pattern in NOT_RUN_HERE):
            continue
        exported = EXPORT.match(command)
        if exported:  # each line runs in a shell of its own: keep the variable for the next ones
            env[exported.group(1)] = exported.group(2)
            continue
        if FOREGROUND_DAEMON.search(command):
            log = open(folder / f"daemon-{len(daemons)}.log", "w")
            daemons.append(subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=folder, env=env,
                                            stdout=log, stderr=log))
            continue
        result = subprocess.run(["bash", "-c", command], cwd=folder, env=env, capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, f"{label}: `{command}` failed:\n{result.stdout}\n{result.stderr}"
