"""Function references: turn a callable into "package.module:function" and back."""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
from typing import Any, Callable

_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_MODULE = re.compile(rf"^{_IDENTIFIER}(\.{_IDENTIFIER})*$")
_NAME = re.compile(rf"^{_IDENTIFIER}$")


_REFERENCES: dict[Any, tuple[str, str]] = {}  # accepted functions and strings: checked once per process


def reference_for(function: Any) -> tuple[str, str]:
    """Return (module, name) of a job function; ValueError says why one is refused."""
    try:
        return _REFERENCES[function]
    except (KeyError, TypeError):  # TypeError: unhashable, refused below
        pass
    if isinstance(function, str):
        reference = parse_reference(function)
    else:
        target = getattr(function, "__gigq_task__", None) or function  # a @task wrapper: store what it wraps
        _refuse_unimportable(target)
        reference = (_module_name(target), target.__name__)
    if len(_REFERENCES) < 10_000:
        _REFERENCES[function] = reference
    return reference


def parse_reference(text: str) -> tuple[str, str]:
    """Split "pkg.mod:func" (or GigQ's "pkg.mod.func") into (module, name)."""
    if ":" in text:
        module, _, name = text.partition(":")
    else:
        module, _, name = text.rpartition(".")
    if not _MODULE.match(module or "") or not _NAME.match(name or ""):
        raise ValueError(
            f"function reference {text!r} is not of the form 'package.module:function'"
        )
    return module, name


def format_reference(module: str, name: str) -> str:
    return f"{module}:{name}"


def _refuse_unimportable(function: Any) -> None:
    if not callable(function):
        raise ValueError(f"function must be a callable or 'module:function', got {type(function).__name__}")
    if inspect.ismethod(function):
        raise ValueError(
            f"{function.__qualname__} is a bound method: a worker cannot re-import it by name; "
            "use a module-level function"
        )
    if not inspect.isfunction(function) and not inspect.isbuiltin(function):
        raise ValueError(
            f"{function!r} is not a plain function: a worker can only re-import module-level functions"
        )
    qualname = function.__qualname__
    if function.__name__ == "<lambda>":
        raise ValueError("a lambda cannot be re-imported by a worker; use a named module-level function")
    if "<locals>" in qualname:
        raise ValueError(
            f"{qualname} is a nested function (closure): a worker cannot re-import it; "
            "define it at module level"
        )
    if "." in qualname:
        raise ValueError(
            f"{qualname} is defined inside a class: a worker cannot re-import it; use a module-level function"
        )
    module = sys.modules.get(function.__module__)
    if module is not None and function.__module__ != "__main__":
        found = getattr(module, function.__name__, None)
        if found is not function and getattr(found, "__gigq_task__", None) is not function:
            raise ValueError(
                f"{function.__module__}.{function.__name__} does not name this function "
                "(was it replaced or created dynamically?); a worker would import something else"
            )


def _module_name(function: Callable) -> str:
    """The importable module name; a script's __main__ maps to its file's name."""
    module = function.__module__
    if module != "__main__":
        return module
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name and spec.name != "__main__":
        return spec.name  # run as `python -m package.module`
    path = getattr(main, "__file__", None)
    if not path:
        raise ValueError(
            f"{function.__name__} was defined in an interactive session: a worker cannot import it; "
            "put it in a module"
        )
    stem = os.path.splitext(os.path.basename(path))[0]
    if not _NAME.match(stem):
        raise ValueError(f"script name {stem!r} is not an importable module name")
    return stem


def resolve(module: str, name: str) -> Callable:
    """Import and return the function a job names (used by workers)."""
    imported = importlib.import_module(module)
    try:
        function = getattr(imported, name)
    except AttributeError:
        raise AttributeError(f"module {module!r} has no function {name!r}") from None
    if not callable(function):
        raise TypeError(f"{module}:{name} is not callable")
    return function
