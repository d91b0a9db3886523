"""The JSON Schema of one configuration file, for editors (`treatywatch schema`): the YAML as operators write it."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from .common import Schedule, config_duration
from .models import LANGUAGES, ConfigFile


class _AsWritten(GenerateJsonSchema):
    """The schema of the YAML as operators write it, not of the parsed values: durations and intervals are
    numbers or strings (15m, 1h30m, a cron line)."""

    def function_before_schema(self, schema: core_schema.BeforeValidatorFunctionSchema) -> JsonSchemaValue:
        fn = schema["function"]["function"]
        if fn is config_duration:
            return {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "examples": ["90s", "15m", "1d"]}]}
        if fn == Schedule.parse:
            return {
                "anyOf": [{"type": "number", "minimum": 1}, {"type": "string", "examples": ["15m", "*/10 * * * *"]}]
            }
        return super().function_before_schema(schema)


def json_schema() -> dict[str, Any]:
    """A JSON Schema of one configuration file, for editors; term sets and entities as written (languages as keys)."""
    schema: dict[str, Any] = ConfigFile.model_json_schema(schema_generator=_AsWritten)
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    schema["title"] = "TreatyWatch configuration file"
    for spec in schema["$defs"].values():
        for prop in spec.get("properties", {}).values():
            if isinstance(prop.get("default"), dict) and "seconds" in prop["default"]:  # a Schedule, as written
                prop["default"] = prop["default"]["seconds"] or prop["default"]["cron"]
    terms = {"type": "array", "items": {"type": "string", "minLength": 1}}
    for name in ("TermSet", "Entity"):
        spec = schema["$defs"].get(name)
        if spec is None:
            continue
        props = {k: v for k, v in spec.get("properties", {}).items() if k != "by_language"}
        schema["$defs"][name] = {
            "type": "object",
            "description": spec.get("description", ""),
            "properties": props,
            "propertyNames": {"enum": [*LANGUAGES, *props]},
            "additionalProperties": terms,
        }
    return schema
