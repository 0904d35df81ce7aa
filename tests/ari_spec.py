"""Asterisk's own ARI description (Swagger 1.1/1.2, Asterisk 22.10.1) as a request and model checker.

Loaded from ``../shared/asterisk-ari-22.10.1/`` (beside the repository; ``GRIDLINE_ARI_SPEC_DIR`` overrides),
never copied into the project. The test server checks every request against it and every object it sends
back (responses and events) against its models, so neither our client nor our simulator can drift from
the real interface.

How Asterisk reads parameters (``res/ari/*`` generated code, mirrored here): path parameters from the
path; query parameters from the query string, where an ``allowMultiple`` value is split on commas; and the
same parameters again from a JSON object body, which wins over the query string, where an ``allowMultiple``
value is a JSON array (a string is one value, never split). ``body`` parameters (``variables``) are keys of
that JSON object. Asterisk silently ignores unknown parameters; this checker reports them.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Where the description lives: ``shared/`` beside the repository root.
SPEC_DIR = Path(
    os.environ.get("GRIDLINE_ARI_SPEC_DIR", Path(__file__).resolve().parents[2] / "shared" / "asterisk-ari-22.10.1")
)
#: Every ARI request may authenticate with ``api_key=user:password`` instead of Basic auth.
AUTH_PARAMS = ("api_key",)
#: Words Asterisk's ``ast_true``/``ast_false`` accept for a boolean.
BOOLEAN_WORDS = {"yes", "true", "y", "t", "1", "on", "no", "false", "n", "f", "0", "off"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{4}|Z)?$")
_PRIMITIVES = {"string", "int", "long", "double", "boolean", "Date", "object", "binary", "void", "containers"}


class SpecViolation(Exception):
    """A request the description does not allow; ``status`` is what Asterisk (or we) answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # path | query | body
    required: bool
    data_type: str
    multiple: bool
    allowed: tuple[str, ...] | None
    minimum: float | None


@dataclass
class Operation:
    method: str
    template: str
    response_class: str
    params: dict[str, Param]
    regex: re.Pattern[str] = field(repr=False)
    literals: int = 0

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


@dataclass
class Request:
    """A request as the checker read it: which operation, and the parameters as Asterisk would see them."""

    operation: Operation
    args: dict[str, Any]


class AriSpec:
    """Operations and models of every API file listed in ``resources.json``."""

    def __init__(self, spec_dir: Path = SPEC_DIR) -> None:
        if not (spec_dir / "resources.json").is_file():
            raise FileNotFoundError(f"ARI description not found in {spec_dir} (set GRIDLINE_ARI_SPEC_DIR)")
        listing = json.loads((spec_dir / "resources.json").read_text(encoding="utf-8"))
        self.operations: list[Operation] = []
        self.models: dict[str, dict[str, Any]] = {}
        for api in listing["apis"]:
            name = api["path"].rsplit("/", 1)[1].replace(".{format}", ".json")
            declaration = json.loads((spec_dir / name).read_text(encoding="utf-8"))
            self.models.update(declaration.get("models", {}))
            for entry in declaration["apis"]:
                for op in entry["operations"]:
                    self.operations.append(_operation(entry["path"], op))
        self._parents = {child: parent for parent, model in self.models.items() for child in model.get("subTypes", [])}

    # --- requests ----------------------------------------------------------------------------------

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]]:
        """The operation for ``method`` on ``path`` (relative to ``/ari``); literal segments win over ``{ids}``."""
        found = [(op, m) for op in self.operations if (m := op.regex.match(path))]
        if not found:
            raise SpecViolation(404, f"unknown path {path}")
        with_method = [(op, m) for op, m in found if op.method == method]
        if not with_method:
            allowed = sorted({op.method for op, _ in found})
            raise SpecViolation(405, f"{method} {path}: method not allowed (only {', '.join(allowed)})")
        op, m = max(with_method, key=lambda pair: pair[0].literals)
        return op, m.groupdict()

    def read(self, method: str, path: str, query: list[tuple[str, str]], body: Any) -> Request:
        """Check a request and return its parameters; raises :class:`SpecViolation` for anything not allowed."""
        op, path_args = self.match(method, path)
        args: dict[str, Any] = dict(path_args)
        problems: list[str] = []
        seen: set[str] = set()
        for name, value in query:
            if name in AUTH_PARAMS:
                continue
            param = op.params.get(name)
            if param is None or param.kind != "query":
                problems.append(f"unknown query parameter {name!r}")
                continue
            if name in seen:
                problems.append(f"query parameter {name!r} given twice")
            seen.add(name)
            values = value.split(",") if param.multiple else [value]
            problems += [p for v in values for p in _check_text(param, v)]
            args[name] = values if param.multiple else _convert(param, value)
        if body is not None:
            accepts_body = any(p.kind in ("query", "body") for p in op.params.values())
            if not isinstance(body, dict):
                problems.append("the JSON body must be an object")
            elif body and not accepts_body:
                problems.append(f"{op.key} takes no body")
            else:
                for name, value in body.items():
                    param = op.params.get(name)
                    if param is None or param.kind == "path":
                        problems.append(f"unknown body key {name!r}")
                        continue
                    if param.kind == "body":
                        if param.data_type in ("containers", "object") and not isinstance(value, dict):
                            problems.append(f"body key {name!r} must be an object")
                        args[name] = value
                        continue
                    values = value if (param.multiple and isinstance(value, list)) else [value]
                    problems += [p for v in values for p in _check_json(param, v)]
                    args[name] = [str(v) for v in values] if param.multiple else value
        for param in op.params.values():
            if param.required and param.name not in args:
                problems.append(f"missing required parameter {param.name!r}")
        if problems:
            raise SpecViolation(400, f"{op.key}: " + "; ".join(problems))
        return Request(op, args)

    # --- models ------------------------------------------------------------------------------------

    def check_event(self, event: dict[str, Any]) -> list[str]:
        """Problems of an event against events.json (its ``type`` names the model)."""
        kind = event.get("type")
        if kind not in self.models:
            return [f"event type {kind!r} is not in events.json"]
        return self.check_model(str(kind), event, f"{kind}")

    def check_model(self, name: str, value: Any, where: str = "") -> list[str]:
        """Problems of ``value`` as an instance of model or type ``name`` (``List[X]`` included)."""
        where = where or name
        if name.startswith("List[") and name.endswith("]"):
            if not isinstance(value, list):
                return [f"{where}: expected a list"]
            return [p for i, item in enumerate(value) for p in self.check_model(name[5:-1], item, f"{where}[{i}]")]
        if name in _PRIMITIVES:
            return _check_primitive(name, value, where)
        properties = self._properties(name)
        if not isinstance(value, dict):
            return [f"{where}: expected an object ({name})"]
        problems = [f"{where}.{key}: not in the {name} model" for key in value if key not in properties]
        for key, prop in properties.items():
            if key not in value:
                if prop.get("required"):
                    problems.append(f"{where}.{key}: required by {name}")
                continue
            problems += self.check_model(prop["type"], value[key], f"{where}.{key}")
            allowed = prop.get("allowableValues", {}).get("values")
            if allowed and value[key] not in allowed:
                problems.append(f"{where}.{key}: {value[key]!r} not in {allowed}")
        return problems

    def _properties(self, name: str) -> dict[str, dict[str, Any]]:
        # Swagger 1.2 inheritance: a parent lists its subTypes (Message > Event > StasisStart).
        properties: dict[str, dict[str, Any]] = {}
        current: str | None = name
        while current is not None:
            properties = {**self.models[current]["properties"], **properties}
            current = self._parents.get(current)
        return properties


def _operation(template: str, op: dict[str, Any]) -> Operation:
    params = {}
    for raw in op.get("parameters", []):
        allowed = raw.get("allowableValues") or {}
        params[raw["name"]] = Param(
            name=raw["name"],
            kind=raw["paramType"],
            required=bool(raw.get("required")) or raw["paramType"] == "path",
            data_type=raw.get("dataType", "string"),
            multiple=bool(raw.get("allowMultiple")),
            allowed=tuple(allowed["values"]) if allowed.get("valueType") == "LIST" else None,
            minimum=allowed.get("min") if allowed.get("valueType") == "RANGE" else None,
        )
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    literals = sum(1 for part in template.split("/") if part and not part.startswith("{"))
    return Operation(
        method=op["httpMethod"],
        template=template,
        response_class=op.get("responseClass", "void"),
        params=params,
        regex=re.compile(f"^{pattern}$"),
        literals=literals,
    )


def _check_text(param: Param, value: str) -> list[str]:
    if param.data_type in ("int", "long"):
        if not re.fullmatch(r"-?\d+", value):
            return [f"{param.name}={value!r} is not an integer"]
        return _check_range(param, int(value))
    if param.data_type == "boolean" and value.lower() not in BOOLEAN_WORDS:
        return [f"{param.name}={value!r} is not a boolean"]
    return _check_allowed(param, value)


def _check_json(param: Param, value: Any) -> list[str]:
    if param.data_type in ("int", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{param.name}={value!r} is not a JSON integer"]
        return _check_range(param, value)
    if param.data_type == "boolean":
        return [] if isinstance(value, bool) else [f"{param.name}={value!r} is not a JSON boolean"]
    if not isinstance(value, str):
        return [f"{param.name}={value!r} is not a JSON string"]
    return _check_allowed(param, value)


def _check_range(param: Param, value: int) -> list[str]:
    if param.minimum is not None and value < param.minimum:
        return [f"{param.name}={value} is below {param.minimum}"]
    return []


def _check_allowed(param: Param, value: str) -> list[str]:
    if param.allowed is not None and value not in param.allowed:
        return [f"{param.name}={value!r} not in {list(param.allowed)}"]
    return []


def _convert(param: Param, value: str) -> Any:
    if param.data_type in ("int", "long") and re.fullmatch(r"-?\d+", value):
        return int(value)
    if param.data_type == "boolean":
        return value.lower() in ("yes", "true", "y", "t", "1", "on")
    return value


def _check_primitive(name: str, value: Any, where: str) -> list[str]:
    checks = {
        "string": lambda v: isinstance(v, str),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "double": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "Date": lambda v: isinstance(v, str) and bool(_DATE.match(v)),
        "object": lambda v: isinstance(v, dict),
        "containers": lambda v: isinstance(v, dict),
    }
    check = checks.get(name)
    return [] if check is None or check(value) else [f"{where}: {value!r} is not a {name}"]
