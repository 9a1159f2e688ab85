"""Field-by-field JSON generation on an embedded llama.cpp model.

Under a whole-object grammar the model *generates* every key of a reply and the punctuation around it,
one decoding step per token, although the grammar allows exactly one spelling: a fill batch of 32
attributes spends about a third of its generated tokens on ``"pay_frequency": "`` and the like. On a
2-core CPU one decoding step costs about as much as evaluating three or four prompt tokens together.

:func:`generate_fields` writes those fixed parts itself: the reply's opening and each key are appended to
the tokens as prompt (evaluated together, in one batch per key), and the model generates only each value,
under that value's own grammar followed by the separator (``,``) or the closing brace. The reply is the
same JSON object a whole-object grammar allows, written on one line as ``{"key": value, ...}``; the model
sees every key before it writes the value, as before.

:func:`field_plan` says which schemas this applies to: an object whose properties are all required, in
the order listed, and no references (the fill batches, the circumstances list, flat pydantic models);
anything else goes through llama.cpp's own whole-object grammar.

A caller's ``field_check`` (see :meth:`~deeppersona.llm.LLM.acomplete`) sees each value as soon as it is
written, before the next key: a value it refuses is sampled once more, under the schema it returns and
with another seed, at the cost of that value's tokens alone (a re-ask is a call of its own, and a refused
value left in the reply invites more like it: five keys of one fill batch copied "Poorly, only in passive
consumption" from each other).
"""

from __future__ import annotations

import functools
import json
import random
import time
from collections.abc import Sequence
from typing import Any

from ._base import FieldCheck
from ._grammar import with_banned_tokens

__all__ = ["field_plan", "generate_fields"]

RESAMPLES = 1
"""How many times a value that ``field_check`` refuses is sampled again (the last sample is kept)."""

_RESAMPLE_SEED_STEP = 7919
"""Seed offset of a value's next sample (a prime, away from the seeds of the following values)."""


def field_plan(schema: Any) -> list[tuple[str, str]] | None:
    """The ``(key, value schema as JSON)`` pairs of an object schema to generate field by field, or ``None``.

    ``None`` unless ``schema`` is an object with at least two properties, all of them required and listed
    in the same order, and no ``$ref``/``$defs`` (each value's grammar is made from its own schema alone).
    Additional properties, where the schema allows them, are never written.
    """
    if not isinstance(schema, dict) or schema.get("type") != "object" or "$defs" in schema:
        return None
    properties = schema.get("properties")
    if not isinstance(properties, dict) or len(properties) < 2:
        return None
    if list(schema.get("required") or []) != list(properties):
        return None  # an optional property may be left out: only the whole-object grammar allows that
    plan: list[tuple[str, str]] = []
    for key, value_schema in properties.items():
        if not isinstance(key, str) or not isinstance(value_schema, dict):
            return None
        text = json.dumps(value_schema, sort_keys=True)
        if '"$ref"' in text:
            return None
        plan.append((key, text))
    return plan


@functools.lru_cache(maxsize=512)
def _value_grammar(value_schema: str, end: str) -> Any:
    """The grammar of one value (``value_schema``, JSON text) followed by ``end`` (``,`` or ``}``)."""
    from llama_cpp import LlamaGrammar
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    rules = json_schema_to_gbnf(value_schema)
    # the converter names the value's rule "root"; it becomes one rule of a grammar that adds the separator
    renamed = "\n".join(
        "field-value ::=" + line[len("root ::=") :] if line.startswith("root ::=") else line
        for line in rules.splitlines()
    )
    return LlamaGrammar.from_string(f"root ::= field-value {json.dumps(end)}\n{renamed}", verbose=False)


def _first_word(llama: Any, sampled: Sequence[int]) -> list[int]:
    """The first of ``sampled`` that holds a letter or digit (after the opening quote), with the tokens
    of the same word in other cases ("None", "none", "NONE") where each is one token: sampled again
    without "None", the embedded model wrote ``["none"]``."""
    for token in sampled:
        text = llama.detokenize([token]).decode("utf-8", errors="ignore")
        if not any(ch.isalnum() for ch in text):
            continue
        core = text.lstrip()
        lead = text[: len(text) - len(core)]
        out = [token]
        for variant in dict.fromkeys(lead + v for v in (core.lower(), core.capitalize(), core.upper())):
            if variant == text:
                continue
            ids = llama.tokenize(variant.encode("utf-8"), add_bos=False, special=False)
            if len(ids) == 1 and ids[0] not in out:
                out.append(int(ids[0]))
        return out
    return []


def _finished(text: str, end: str) -> bool:
    """Whether ``text`` is a whole JSON value followed by ``end`` (a comma inside a string is not the end)."""
    stripped = text.rstrip()
    if not stripped.endswith(end):
        return False
    try:
        json.loads(stripped[: -len(end)], strict=False)  # the grammar lets a raw line break into a string
    except ValueError:
        return False
    return True


def generate_fields(
    llama: Any,
    prompt_tokens: Sequence[int],
    plan: Sequence[tuple[str, str]],
    *,
    max_tokens: int | None,
    seed: int | None,
    sampling: dict[str, Any],
    field_check: FieldCheck | None = None,
) -> dict[str, Any]:
    """Generate a JSON object field by field after ``prompt_tokens`` (the chat prompt, already tokenised).

    Args:
        llama: A loaded ``llama_cpp.Llama`` (its KV cache is reused across the fields and across calls).
        prompt_tokens: The formatted chat prompt's tokens, ending where the assistant's reply begins.
        plan: :func:`field_plan` of the response schema.
        max_tokens: Most tokens the model may *generate* in all (the fixed parts are not counted); the
            reply is cut off (finish reason ``"length"``) when they run out.
        seed: Sampling seed (each field samples with its own seed derived from it), or ``None``.
        sampling: llama.cpp sampling arguments (``temp``, ``top_p``, ``top_k``, ``min_p``, penalties).
        field_check: ``(key, value) -> JSON schema | None``, called on each whole value (every sample, so
            that the caller knows what was written): a schema has the value sampled again under it, at
            most :data:`RESAMPLES` times (the last sample is kept), ``None`` keeps it.

    Returns:
        An OpenAI-shaped chat completion dict, like ``Llama.create_chat_completion``'s; its usage counts the
        reply's tokens as completion tokens, ``generated_tokens`` the ones the model sampled (discarded
        samples included) and ``resampled_values`` the values sampled again.

    Raises:
        ValueError: The prompt and the reply do not fit in the model's context window (llama.cpp's wording).
    """
    import llama_cpp

    n_ctx = int(llama.n_ctx())
    vocab = llama._model.vocab

    def eog(token: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_eog(vocab, token))

    tokens = list(prompt_tokens)
    text = ""
    generated = 0
    resampled = 0
    finish = "stop"
    rng_seed = seed if seed is not None else random.Random(llama._seed).randint(0, 2**32)
    for index, (key, value_schema) in enumerate(plan):
        fixed = ("{" if index == 0 else " ") + json.dumps(key, ensure_ascii=False) + ": "
        text += fixed
        tokens += llama.tokenize(fixed.encode("utf-8"), add_bos=False, special=False)
        end = "}" if index == len(plan) - 1 else ","
        schema = value_schema
        banned: list[int] = []
        for attempt in range(RESAMPLES + 1):
            llama.set_seed((rng_seed + index + attempt * _RESAMPLE_SEED_STEP) % 2**32)
            budget = None if max_tokens is None else max_tokens - generated
            grammar = _value_grammar(schema, end)
            if banned:
                grammar = with_banned_tokens(grammar, banned)
            value, sampled, finish = _one_value(
                llama, tokens, grammar, end, sampling, budget=budget, n_ctx=n_ctx, eog=eog
            )
            if field_check is None or not _finished(value, end):
                break
            again = field_check(key, json.loads(value.rstrip()[: -len(end)], strict=False))
            if again is None or attempt == RESAMPLES:
                break
            generated += len(sampled)  # the discarded sample was generated all the same
            resampled += 1
            schema = json.dumps(dict(again), sort_keys=True)
            # and without its first word: under a new seed alone, the embedded model wrote the phrase it
            # had copied from earlier in the dialogue ("Highest energy level during the day") once more
            banned.extend(_first_word(llama, sampled))
        text += value
        tokens += sampled
        generated += len(sampled)
        if finish != "stop":
            break
    completion = len(tokens) - len(prompt_tokens)
    return {
        "id": f"chatcmpl-fields-{time.time_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(getattr(llama, "model_path", "")),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": len(prompt_tokens),
            "completion_tokens": completion,
            "total_tokens": len(prompt_tokens) + completion,
            "generated_tokens": generated,
            "resampled_values": resampled,
        },
    }


def _one_value(
    llama: Any,
    tokens: list[int],
    grammar: Any,
    end: str,
    sampling: dict[str, Any],
    *,
    budget: int | None,
    n_ctx: int,
    eog: Any,
) -> tuple[str, list[int], str]:
    """Sample one value (and its separator) after ``tokens``: its text, its tokens and the finish reason."""
    if len(tokens) + 1 > n_ctx:
        raise ValueError(f"Requested tokens ({len(tokens)}) exceed context window of {n_ctx}")
    sampled: list[int] = []
    raw = b""
    if budget is not None and budget <= 0:
        return "", sampled, "length"
    generator = llama.generate(tokens, grammar=grammar, **sampling)
    try:
        for token in generator:
            if eog(token):
                return raw.decode("utf-8", errors="replace"), sampled, "stop"
            sampled.append(token)
            raw += llama.detokenize([token])
            value = raw.decode("utf-8", errors="ignore")
            if _finished(value, end):
                return value, sampled, "stop"
            if budget is not None and len(sampled) >= budget:
                return value, sampled, "length"
            if len(tokens) + len(sampled) >= n_ctx:
                return value, sampled, "length"
    finally:
        generator.close()
    return raw.decode("utf-8", errors="replace"), sampled, "stop"
