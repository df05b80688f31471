"""allowed_modules as a rule: which functions a job may name, and why one is refused.

An entry allows a module and its submodules ("tasks" allows tasks.images). "*"
allows every module except the guarded ones: the standard library, the packages
every gigqd installation has, and __main__ (in a worker, gigqd's own entry point).
Their functions run commands (os.system, subprocess.run), evaluate or load code
(builtins.exec, importlib, pickle.loads, runpy, timeit.timeit, cProfile.run) or
write and read files by name (shutil.rmtree, builtins.open, pathlib); the
standard library has too many such back doors to list one by one, so all of it
is guarded except a few modules of pure computation. A guarded module runs
only if allowed_modules names it (or a package above it) itself.
"""

from __future__ import annotations

import sys
from typing import Any, Optional, Sequence

# Standard-library modules of pure computation: nothing in them runs a command,
# evaluates a string, imports a module by name or opens a file by name. The
# modules in "_" are the C halves of their public ones (operator.add is _operator's).
PURE = frozenset({
    "base64", "binascii", "_bisect", "bisect", "_blake2", "cmath", "colorsys", "copy", "datetime", "decimal",
    "difflib", "fractions", "_functools", "functools", "_hashlib", "hashlib", "heapq", "_heapq", "hmac",
    "html", "ipaddress", "itertools", "json", "_json", "json.decoder", "json.encoder", "keyword", "math",
    "numbers", "_operator", "operator", "pprint", "random", "re", "secrets", "statistics", "string",
    "textwrap", "time", "unicodedata", "zlib",
})
# Installed with every gigqd (itself, gigq_client, their dependencies, the venv's
# installers): psutil.Popen runs a command, pip.main installs and runs code.
INSTALLED_WITH_GIGQD = frozenset({
    "gigq_client", "gigqd", "psutil", "click", "structlog", "setproctitle", "tomli", "psycopg",
    "pip", "setuptools", "pkg_resources", "_distutils_hack", "wheel",
})


def guarded(module: str) -> Optional[str]:
    """What makes `module` guarded (for the refusal's message), or None if "*" covers it."""
    top = module.partition(".")[0]
    if module in PURE:
        return None
    if top in sys.stdlib_module_names:
        return "part of the standard library"
    if top in INSTALLED_WITH_GIGQD:
        return "installed with gigqd"
    if top == "__main__":
        return "the worker's own main module"
    return None


class AllowedModules:
    """The allowed_modules setting, judging one function at a time."""

    def __init__(self, entries: Sequence[str]):
        self.any = "*" in entries
        self.listed = tuple(entry for entry in entries if entry != "*")

    def refusal(self, module: str, name: str) -> Optional[str]:
        """Why a job may not name module:name, judged before anything is imported; None if it may."""
        if self.names(module):
            return None
        if not self.any:
            return f"{module}:{name} is not allowed: module {module!r} is not in allowed_modules"
        why = guarded(module)
        if why is not None:
            return (f'{module}:{name} is not allowed: "*" in allowed_modules does not cover {module}, which is {why}; '
                    f'list "{module}" in allowed_modules to run it')
        return None

    def refusal_of(self, function: Any, module: str, name: str) -> Optional[str]:
        """Why the function module:name turned out to be may not run: a guarded module's
        function reached through another module (`from os import system` in tasks.py)."""
        defining = getattr(function, "__module__", None)
        if not isinstance(defining, str) or defining == module or (self.names(module) and guarded(module)):
            return None
        why = guarded(defining)
        if why is None or self.names(defining):
            return None
        return (f"{module}:{name} is not allowed: it is {defining}:{getattr(function, '__name__', name)}, and "
                f'{defining} is {why}; list "{defining}" in allowed_modules to run it')

    def names(self, module: str) -> bool:
        """True if an entry other than "*" allows `module`."""
        return any(module == entry or module.startswith(entry + ".") for entry in self.listed)
