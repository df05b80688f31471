"""Run one job: import its function, call it, and describe what came of it. No DB, no signals."""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from .allowed import AllowedModules
from .functions import resolve
from .serialize import to_json
from .store import COMPLETED, FAILED, ClaimedJob

ParentResults = Callable[[Sequence[str]], dict[str, Any]]
_DECODE = json.JSONDecoder().decode


@dataclass(frozen=True)
class Result:
    status: str  # COMPLETED or FAILED
    result: Optional[str] = None  # JSON text
    error: Optional[str] = None
    retryable: bool = True  # False when running it again cannot help


class Refused(Exception):
    """The job cannot run as stored; retrying will not help."""


class Executor:
    def __init__(self, allowed_modules: Sequence[str], max_result_bytes: int, parent_results: ParentResults):
        self._allowed = AllowedModules(allowed_modules)
        self._max_result_bytes = max_result_bytes
        self._parent_results = parent_results
        self._functions: dict[tuple[str, str], tuple[Callable, bool]] = {}

    def run(self, job: ClaimedJob) -> Result:
        if job.defect:
            return Result(FAILED, error=f"malformed job row: {job.defect}", retryable=False)
        try:
            function, wants_parents = self._function(job.module, job.function)
            params = self._params(job, wants_parents)
        except Refused as refusal:
            return Result(FAILED, error=str(refusal), retryable=False)
        try:
            value = function(**params)
        except BaseException as error:  # sys.exit, KeyboardInterrupt and the like are the job's failure too
            return Result(FAILED, error=describe(error))
        return self._encode(job, value)

    def _function(self, module: str, name: str) -> tuple[Callable, bool]:
        key = (module, name)
        if key not in self._functions:
            refusal = self._allowed.refusal(module, name)  # before the import: a module's import runs its code
            if refusal:
                raise Refused(refusal)
            try:
                function = resolve(module, name)
            except BaseException as error:
                raise Refused(f"cannot import {module}:{name}: {describe(error)}") from None
            refusal = self._allowed.refusal_of(function, module, name)
            if refusal:
                raise Refused(refusal)
            self._functions[key] = (function, _accepts_parent_results(function))
        return self._functions[key]

    def _params(self, job: ClaimedJob, wants_parents: bool) -> dict[str, Any]:
        try:
            params = {} if job.params == "{}" else _DECODE(job.params)
        except ValueError as error:
            raise Refused(f"params are not valid JSON ({error})") from None
        if not isinstance(params, dict):
            raise Refused(f"params must be a JSON object, got {type(params).__name__}")
        inject = job.pass_parent_results if job.pass_parent_results is not None else wants_parents
        if job.dependencies and inject:
            params["parent_results"] = self._parent_results(job.dependencies)
        return params

    def _encode(self, job: ClaimedJob, value: Any) -> Result:
        try:
            text = "null" if value is None else to_json(value)
        except (TypeError, ValueError, RecursionError) as error:
            return Result(FAILED, error=f"result of {job.name} is not JSON-serializable: {error}", retryable=False)
        if len(text) > self._max_result_bytes:
            return Result(
                FAILED,
                error=f"result of {job.name} is {len(text):,} bytes, "
                      f"more than max_result_bytes ({self._max_result_bytes:,})",
                retryable=False,
            )
        return Result(COMPLETED, result=text)


def describe(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"SystemExit: the job called sys.exit({error.code!r})"
    message = str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def _accepts_parent_results(function: Callable) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "parent_results" or p.kind is p.VAR_KEYWORD for p in parameters)
