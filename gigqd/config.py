"""Load settings: command line > environment (GIGQD_*) > TOML file > default; validate all."""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Any, Mapping, Optional

from gigq_client import GigqError
from gigq_client.store import is_postgres_url

from . import sharing
from .settings import SETTINGS, Settings
from .supervisor.watchdog import fence_margin

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ENV_PREFIX = "GIGQD_"
SHARED_DB_VARIABLE = "GIGQ_DB"


class ConfigError(GigqError):
    """The configuration has errors; `problems` lists every one."""

    def __init__(self, problems: list[str], source: str = "configuration"):
        self.problems = problems
        super().__init__(f"{source} has {len(problems)} error(s):\n" + "\n".join(f"  - {p}" for p in problems))


def load(
    config_path: Optional[str] = None,
    overrides: Optional[Mapping[str, Any]] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> Settings:
    """Settings from every source; ConfigError lists every problem at once."""
    problems: list[str] = []
    values: dict[str, Any] = {}
    if config_path:
        values.update(_from_file(config_path, problems))
    values.update(_from_environment(os.environ if environ is None else environ, problems))
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    settings = _build(values, problems)
    problems += _inconsistencies(settings)
    refused = sharing.refusal(settings, look_at_files=False)  # files are looked at when gigqd starts
    if refused:
        problems.append(refused)
    if problems:
        raise ConfigError(problems, config_path or "configuration")
    return settings


# A busy worker's heartbeat thread may wait for the GIL, or for a loaded CPU, for a
# while: a limit close to the interval would declare healthy workers hung.
HEARTBEAT_MARGIN = 3


def _inconsistencies(settings: Settings) -> list[str]:
    """Settings that are each valid but wrong together."""
    found = []
    margin = fence_margin(settings.kill_grace, settings.heartbeat_interval)
    if is_postgres_url(settings.db) and settings.lease < 2 * margin:
        found.append(f"lease ({settings.lease:g} s) must be at least {2 * margin:g} s: twice the time a daemon "
                     f"needs to stop its jobs before its lease runs out (kill_grace, two heartbeat_intervals "
                     "and a second)")
    if settings.heartbeat_timeout < HEARTBEAT_MARGIN * settings.heartbeat_interval:
        found.append(f"heartbeat_timeout ({settings.heartbeat_timeout:g} s) must be at least {HEARTBEAT_MARGIN} times "
                     f"heartbeat_interval ({settings.heartbeat_interval:g} s), or busy workers are declared hung")
    return found


def warnings_for(settings: Settings) -> list[str]:
    """Things that are allowed but probably not meant."""
    found = []
    if "*" in settings.allowed_modules:
        found.append(
            'allowed_modules allows "*": whoever can write to the database can make workers run any function '
            "of your application or of the packages installed here (not the standard library's or gigqd's own); "
            "list your job modules instead"
        )
    return found


def _from_file(path: str, problems: list[str]) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        problems.append(f"config file {path} does not exist")
        return {}
    except (OSError, tomllib.TOMLDecodeError) as error:
        problems.append(f"config file {path} cannot be read: {error}")
        return {}
    table = data.get("gigqd", data) if isinstance(data.get("gigqd"), dict) else data
    values = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in SETTINGS:
            problems.append(f"{key}: unknown setting{_suggest(name)}")
        else:
            values[name] = value
    if values.get("db") and not os.path.isabs(values["db"]) and not is_postgres_url(values["db"]):
        values["db"] = os.path.join(os.path.dirname(os.path.abspath(path)), values["db"])
    return values


def _from_environment(environ: Mapping[str, str], problems: list[str]) -> dict[str, Any]:
    values = {}
    for variable, text in environ.items():
        if not variable.startswith(ENV_PREFIX):
            continue
        name = variable[len(ENV_PREFIX):].lower()
        if name not in SETTINGS:
            problems.append(f"{variable}: unknown setting{_suggest(name)}")
            continue
        values[name] = _parse_text(name, text, problems, variable)
    if "db" not in values and environ.get(SHARED_DB_VARIABLE):
        values["db"] = environ[SHARED_DB_VARIABLE]  # the one variable gigqd, gigqctl and JobQueue all read
    return {k: v for k, v in values.items() if v is not _INVALID}


_INVALID = object()


def _parse_text(name: str, text: str, problems: list[str], label: str) -> Any:
    kind = SETTINGS[name].type
    try:
        if kind == "int":
            return int(text, 0)
        if kind == "float":
            return float(text)
        if kind == "list":
            return [part.strip() for part in text.split(",") if part.strip()]
        return text
    except ValueError:
        problems.append(f"{label}: {text!r} is not a valid {kind}")
        return _INVALID


def _build(values: dict[str, Any], problems: list[str]) -> Settings:
    checked = {}
    for name, value in values.items():
        value = _coerce(name, value, problems)
        if value is _INVALID:
            continue
        check = SETTINGS[name].metadata["check"]
        problem = check(value) if check else None
        if problem:
            problems.append(f"{name}: {problem} (got {value!r})")
        else:
            checked[name] = value
    return dataclasses.replace(Settings(), **checked)


def _coerce(name: str, value: Any, problems: list[str]) -> Any:
    kind = SETTINGS[name].type
    if kind == "list" and isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    expected = {"int": int, "float": (int, float), "str": str, "list": list}[kind]
    if isinstance(value, bool) or not isinstance(value, expected):
        problems.append(f"{name}: expected {kind}, got {type(value).__name__} {value!r}")
        return _INVALID
    if kind == "list" and not all(isinstance(item, str) for item in value):
        problems.append(f"{name}: expected a list of strings, got {value!r}")
        return _INVALID
    return float(value) if kind == "float" else value


def _suggest(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(SETTINGS), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
