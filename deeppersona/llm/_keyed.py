"""Replies whose keys the caller fixes for each call: a JSON object with one value per listed key.

A fill batch asks for one value per attribute of the batch; the builder's Check Node / Check Path calls
ask for one verdict per name or path. Such a reply is a :class:`KeyedReply` subclass made for the call
(:func:`keyed_reply_type`), whose JSON schema lists the exact keys, in order, each with its value's
schema. Providers with structured output and grammar-constrained local models then write every key, and
the embedded model writes the keys as prompt and generates only the values (see
:mod:`deeppersona.llm._fields`): a verdict costs the tokens of ``true``, not those of
``{"id": 12, "valid": true, "rewrite": null}``.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, TypeAdapter
from pydantic_core import core_schema

__all__ = ["KeyedReply", "keyed_reply_type"]

R = TypeVar("R", bound="KeyedReply")


class KeyedReply(dict):  # type: ignore[type-arg]
    """A reply that is a JSON object of ``key -> value`` with the keys of one call.

    Validation is lenient (any JSON object with string keys): a missing or unusable value is the
    caller's to judge, re-ask or count, rather than a failure of the whole reply. Subclasses made by
    :func:`keyed_reply_type` carry the call's schema in :attr:`json_schema`.
    """

    json_schema: ClassVar[dict[str, Any]] = {"type": "object"}

    prompt_lists_keys: ClassVar[bool] = True
    """The call's prompt lists every key and says what its value must be: a backend that enforces the
    schema (an embedded model's grammar) need not repeat the schema as prompt text."""

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls, core_schema.dict_schema(core_schema.str_schema(), core_schema.any_schema())
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        return dict(cls.json_schema)

    @classmethod
    def model_validate(cls: type[R], data: Any) -> R:
        """Validate a reply: any JSON object with string keys (each call is a class of its own, so a
        ``TypeAdapter`` per call would cost more than the check; the caller checks the values).

        Raises:
            pydantic.ValidationError: ``data`` is not such an object.
        """
        return cls(_object_adapter().validate_python(data))

    @classmethod
    def model_json_schema(cls) -> dict[str, Any]:
        """The call's JSON schema (:attr:`json_schema`), a copy the caller may change."""
        return copy.deepcopy(cls.json_schema)


def keyed_reply_type(
    name: str,
    properties: Mapping[str, Mapping[str, Any]],
    base: type[R] = KeyedReply,  # type: ignore[assignment]
) -> type[R]:
    """A ``base`` subclass named ``name`` whose JSON schema requires exactly ``properties``, in order.

    Args:
        name: The class name, also the schema's title (providers show it as the response format's name).
        properties: ``key -> JSON schema of its value``.
        base: :class:`KeyedReply` or a subclass of it.
    """
    schema = {
        "title": name,
        "type": "object",
        "properties": {key: dict(value) for key, value in properties.items()},
        "required": list(properties),
        "additionalProperties": False,
    }
    return type(name, (base,), {"json_schema": schema})


@functools.cache
def _object_adapter() -> TypeAdapter[dict[str, Any]]:
    """The validator of a JSON object with string keys, built on first use."""
    return TypeAdapter(dict[str, Any])
