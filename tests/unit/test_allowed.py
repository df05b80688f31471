"""allowed_modules: "*" leaves out the standard library and gigqd's own install; rows naming them run nothing.

Each hostile row is a real job in a real database, claimed and handed to the
executor a worker uses. Where the function could create a file, its params say
to create one, and the test proves the file does not exist.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from gigq_client import Job, JobQueue
from gigq_client.allowed import INSTALLED_WITH_GIGQD, PURE, AllowedModules, guarded
from gigq_client.execute import Executor

# (module:function, params that would leave a file at {T}, or in the empty folder {F}, if it ran)
HOSTILE = [
    ("os:system", {"command": "touch {T}"}),
    ("posix:system", {"command": "touch {T}"}),
    ("os:popen", {"cmd": "touch {T}"}),
    ("os:mkdir", {"path": "{T}"}),
    ("os:execv", {"path": "/bin/touch", "argv": ["touch", "{T}"]}),
    ("os.path:exists", {"path": "{T}"}),
    ("posixpath:exists", {"path": "{T}"}),
    ("subprocess:run", {"args": ["touch", "{T}"]}),
    ("subprocess:Popen", {"args": ["touch", "{T}"]}),
    ("subprocess:getoutput", {"cmd": "touch {T}"}),
    ("_posixsubprocess:fork_exec", {}),
    ("pty:spawn", {"argv": ["touch", "{T}"]}),
    ("builtins:exec", {"source": "open({T!r}, 'w')"}),
    ("builtins:eval", {"source": "open({T!r}, 'w')"}),
    ("builtins:compile", {"source": "1", "filename": "{T}", "mode": "eval"}),
    ("builtins:open", {"file": "{T}", "mode": "w"}),
    ("builtins:__import__", {"name": "antigravity"}),
    ("io:open", {"file": "{T}", "mode": "w"}),
    ("_io:open", {"file": "{T}", "mode": "w"}),
    ("codecs:open", {"filename": "{T}", "mode": "w"}),
    ("pathlib:Path", {}),
    ("shutil:copyfile", {"src": __file__, "dst": "{T}"}),
    ("shutil:rmtree", {"path": "{F}"}),
    ("tempfile:mkstemp", {"dir": "{F}"}),
    ("pickle:loads", {"data": "cos\nsystem\n(S'touch {T}'\ntR."}),
    ("marshal:loads", {"bytes": ""}),
    ("shelve:open", {"filename": "{T}"}),
    ("dbm:open", {"file": "{T}", "flag": "c"}),
    ("sqlite3:connect", {"database": "{T}"}),
    ("importlib:import_module", {"name": "antigravity"}),
    ("runpy:run_path", {"path_name": "{T}.py"}),
    ("runpy:run_module", {"mod_name": "antigravity"}),
    ("ctypes:CDLL", {"name": "libc.so.6"}),
    ("code:interact", {}),
    ("timeit:timeit", {"stmt": "open({T!r}, 'w')", "number": 1}),
    ("cProfile:run", {"statement": "open({T!r}, 'w')"}),
    ("pydoc:pipepager", {"text": "x", "cmd": "touch {T}"}),
    ("logging.config:dictConfig", {"config": {"version": 1}}),
    ("multiprocessing:Process", {}),
    ("socket:create_connection", {"address": ["127.0.0.1", 9]}),
    ("sys:exit", {}),
    ("webbrowser:open", {"url": "file://{T}"}),
    ("tarfile:open", {"name": "{T}", "mode": "w"}),
    ("zipfile:ZipFile", {"file": "{T}", "mode": "w"}),
    ("gzip:open", {"filename": "{T}", "mode": "wb"}),
    ("linecache:getline", {"filename": "/etc/passwd", "lineno": 1}),
    ("site:addsitedir", {"sitedir": "{F}"}),
    ("venv:create", {"env_dir": "{T}"}),
    ("urllib.request:urlretrieve", {"url": "file://" + __file__, "filename": "{T}"}),
    ("gigqd.files:write_private", {"path": "{T}", "text": "ran"}),
    ("gigq_client.store.sqlite:SqliteStore", {"path": "{T}"}),
    ("psutil:Popen", {"args": ["touch", "{T}"]}),
    ("pip:main", {"args": ["--version"]}),
    ("__main__:main", {}),
]


def _fill(value: Any, target: Path, folder: Path) -> Any:
    if isinstance(value, str):
        return value.replace("{T!r}", repr(str(target))).replace("{T}", str(target)).replace("{F}", str(folder))
    if isinstance(value, list):
        return [_fill(item, target, folder) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, target, folder) for key, item in value.items()}
    return value


def _run(db_path: str, reference: str, params: dict, allowed: list[str]):
    queue = JobQueue(db_path)
    queue.submit(Job("hostile", reference, params=params, max_attempts=1))
    job = queue.store.claim("w1", None, 1)[0]
    return Executor(allowed, 1 << 20, queue.store.parent_results).run(job)


@pytest.mark.parametrize("allowed", [["*"], ["*", "tests"], ["tests"]], ids=["star", "star-and-tests", "tests"])
@pytest.mark.parametrize("reference, params", HOSTILE, ids=[reference for reference, _ in HOSTILE])
def test_a_hostile_row_is_refused_by_name_and_runs_nothing(db_path, tmp_path, reference, params, allowed):
    target, folder = tmp_path / "ran", tmp_path / "empty"
    folder.mkdir()
    result = _run(db_path, reference, _fill(params, target, folder), allowed)
    assert (result.status, result.retryable) == ("failed", False)
    assert result.error.startswith(f"{reference} is not allowed") and "allowed_modules" in result.error
    assert not target.exists() and list(folder.iterdir()) == []


def test_every_standard_library_module_but_the_pure_ones_is_left_out_of_star():
    rule = AllowedModules(["*"])
    left_out = sorted(sys.stdlib_module_names - PURE)
    refused = [name for name in left_out if rule.refusal(name, "anything")]
    assert refused == left_out and len(left_out) > 250
    assert all(rule.refusal(f"{name}.sub", "anything") for name in ("os", "json", "xml", "importlib"))
    assert all(rule.refusal(name, "anything") for name in INSTALLED_WITH_GIGQD)


def test_the_refusal_says_what_to_list_to_allow_it():
    error = AllowedModules(["*"]).refusal("os", "system")
    assert error == ('os:system is not allowed: "*" in allowed_modules does not cover os, which is part of the '
                     'standard library; list "os" in allowed_modules to run it')


@pytest.mark.parametrize("module", sorted(PURE))
def test_every_public_function_of_the_pure_modules_may_run_under_star(module):
    imported = __import__(module, fromlist=["_"])
    rule = AllowedModules(["*"])
    names = getattr(imported, "__all__", None) or [n for n in dir(imported) if not n.startswith("_")]
    refused = [name for name in names if callable(getattr(imported, name, None))
               and (rule.refusal(module, name) or rule.refusal_of(getattr(imported, name), module, name))]
    assert refused == []


def test_star_still_runs_pure_functions_and_application_modules(db_path):
    assert _run(db_path, "statistics:median", {"data": [1, 5, 9]}, ["*"]).result == "5"
    assert _run(db_path, "operator:add", {}, ["*"]).error.startswith("TypeError")  # it ran, and wanted arguments
    assert _run(db_path, "tests.jobfuncs:add", {"a": 1, "b": 2}, ["*"]).result == "3"


def test_a_module_listed_by_name_runs_its_functions(db_path, tmp_path):
    assert _run(db_path, "os:getcwd", {}, ["*", "os"]).status == "completed"
    assert _run(db_path, "os.path:basename", {"p": "/a/b"}, ["os"]).result == '"b"'
    target = tmp_path / "ran"
    assert _run(db_path, "subprocess:run", {"args": ["touch", str(target)]}, ["*", "subprocess"]).status == "failed"
    assert target.exists()  # it ran: its CompletedProcess result is not JSON, so the job failed after


def test_a_guarded_function_reached_through_an_allowed_module_is_refused(db_path, tmp_path, monkeypatch):
    (tmp_path / "reexports.py").write_text("from os import system\nfrom subprocess import run as go\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    target = tmp_path / "ran"
    for allowed in (["*"], ["reexports"]):
        for name, params in (("system", {"command": f"touch {target}"}), ("go", {"args": ["touch", str(target)]})):
            error = _run(db_path, f"reexports:{name}", params, allowed).error
            assert error.startswith(f"reexports:{name} is not allowed: it is ") and "allowed_modules" in error
    assert "posix:system" in _run(db_path, "reexports:system", {}, ["*"]).error
    assert not target.exists()
    assert _run(db_path, "reexports:system", {"command": "true"}, ["reexports", "posix"]).result == "0"


def test_guarded_says_why():
    assert guarded("os.path") == "part of the standard library" and guarded("psutil") == "installed with gigqd"
    assert guarded("json") is None and guarded("tasks") is None and guarded("__main__") is not None
