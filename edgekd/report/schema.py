"""The JSON Schema of report.json (``edgekd/schemas/report.schema.json``) and validation against it."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from ..errors import BadInputError

SCHEMA_FILE = "report.schema.json"


@lru_cache(maxsize=1)
def report_schema() -> dict[str, Any]:
    """The report schema (draft 2020-12), read from the package data."""
    text = resources.files("edgekd").joinpath("schemas", SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def schema_errors(report: Any) -> list[str]:
    """Every schema violation of ``report`` as ``path: message`` lines, most relevant first."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match, relevance

    validator = Draft202012Validator(report_schema())
    # best_match descends into oneOf/anyOf, so a bad field inside a nullable object is named, not its parent.
    errors = sorted((best_match([e]) for e in validator.iter_errors(report)), key=relevance)
    return [f"{_path(e.absolute_path)}: {_message(e)}" for e in errors]


def validate_report(report: Any, source: str = "report") -> None:
    """Raise a one-line :class:`BadInputError` naming the first schema violation of ``report``."""
    errors = schema_errors(report)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise BadInputError(f"{source} does not match the report schema: {errors[0]}{more}",
                            fix=f"pass a report.json written by `edgekd build` (schema: edgekd/schemas/{SCHEMA_FILE})")


def _path(parts) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _message(error) -> str:
    # jsonschema quotes the whole offending instance; for big objects keep only the first line, short.
    msg = " ".join(error.message.split())
    return msg if len(msg) <= 160 else msg[:157] + "..."
