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

:func:`record_plan` and :func:`generate_records` do the same, on request (``field_by_field="records"``),
for a list of records: an object whose only property is an array of flat objects (the builder's extraction
reply, ``{"attributes": [{"root": ..., "category": ..., "attribute": ..., "value": ...}, ...]}``). The
punctuation and the keys of every record are written; the model generates the values and, before each
record, only the choice between another record and the end of the list. A value there that must be one of
a few strings (an enum: a root category) is generated until its opening tells the options apart; the
rest of the option is then written, not generated (the builder's root names are six to nine tokens each,
and their first token decides). See :func:`reply_plan` for what it did to the builder's extraction.

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
from dataclasses import dataclass
from typing import Any

from ._base import FieldCheck
from ._grammar import with_banned_tokens

__all__ = [
    "RecordPlan",
    "field_plan",
    "generate_fields",
    "generate_planned",
    "generate_records",
    "record_plan",
    "reply_plan",
]

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
    return _properties_plan(schema)


def _properties_plan(schema: dict[str, Any]) -> list[tuple[str, str]] | None:
    """The ``(key, value schema as JSON)`` pairs of an object schema's properties, or ``None`` where one
    is optional, out of order or holds a ``$ref``."""
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties:
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


@dataclass(frozen=True)
class RecordPlan:
    """How :func:`generate_records` writes a reply: ``{key: [record, ...]}``.

    Attributes:
        key: The object's one property, an array.
        fields: Each record's ``(key, value schema as JSON)`` pairs, in order (as :func:`field_plan`).
        min_items: Records the list must hold at least (``minItems``).
        max_items: Records it may hold at most (``maxItems``), or ``None``.
    """

    key: str
    fields: tuple[tuple[str, str], ...]
    min_items: int = 0
    max_items: int | None = None


def record_plan(schema: Any) -> RecordPlan | None:
    """The :class:`RecordPlan` of an object schema whose only property is an array of flat records, or
    ``None``.

    The records' schema may be given inline or as a ``$ref`` into the schema's ``$defs`` (as pydantic writes
    it); it must meet :func:`field_plan`'s conditions, except that one property is enough.
    """
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return None
    properties = schema.get("properties")
    if not isinstance(properties, dict) or len(properties) != 1:
        return None
    ((key, array),) = properties.items()
    if not isinstance(key, str) or not isinstance(array, dict) or array.get("type") != "array":
        return None
    item = array.get("items")
    if isinstance(item, dict) and set(item) == {"$ref"}:
        ref = str(item["$ref"])
        defs = schema.get("$defs") or {}
        item = defs.get(ref.rpartition("/")[2]) if ref.startswith("#/$defs/") else None
    if not isinstance(item, dict) or item.get("type") != "object":
        return None
    plan = _properties_plan(item)
    if plan is None:
        return None
    least = array.get("minItems", 0)
    most = array.get("maxItems")
    if not isinstance(least, int) or (most is not None and not isinstance(most, int)):
        return None
    if most is not None and most < least:
        return None
    return RecordPlan(key, tuple(plan), least, most)


@functools.lru_cache(maxsize=512)
def _value_grammar(value_schema: str, end: str, spaced: bool = False) -> Any:
    """The grammar of one value (``value_schema``, JSON text) followed by ``end`` (``,`` or ``}``); with
    ``spaced``, after an optional space (the key was written without one)."""
    from llama_cpp import LlamaGrammar
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    rules = json_schema_to_gbnf(value_schema)
    # the converter names the value's rule "root"; it becomes one rule of a grammar that adds the separator
    renamed = "\n".join(
        "field-value ::=" + line[len("root ::=") :] if line.startswith("root ::=") else line
        for line in rules.splitlines()
    )
    lead = '" "? ' if spaced else ""
    return LlamaGrammar.from_string(f"root ::= {lead}field-value {json.dumps(end)}\n{renamed}", verbose=False)


@functools.lru_cache(maxsize=64)
def _choice_grammar(options: tuple[str, ...]) -> Any:
    """The grammar of exactly one of ``options`` (literal texts)."""
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_string("root ::= " + " | ".join(json.dumps(o) for o in options), verbose=False)


@functools.lru_cache(maxsize=512)
def _options(value_schema: str, end: str) -> tuple[str, ...]:
    """The texts a value of ``value_schema`` (JSON text) can be, followed by ``end``, each with and without
    a space before it (the key was written without one), when it is one of a few strings (an ``enum``);
    ``()`` otherwise."""
    schema = json.loads(value_schema)
    choices = schema.get("enum") if isinstance(schema, dict) else None
    if not isinstance(choices, list) or not choices or not all(isinstance(c, str) for c in choices):
        return ()
    texts = tuple(json.dumps(c, ensure_ascii=False) + end for c in choices)
    return (*texts, *(" " + t for t in texts))


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
    writer = _Writer(llama, prompt_tokens, max_tokens=max_tokens, seed=seed, sampling=sampling)
    for index, (key, value_schema) in enumerate(plan):
        writer.write(("{" if index == 0 else " ") + json.dumps(key, ensure_ascii=False) + ": ")
        end = "}" if index == len(plan) - 1 else ","
        if not writer.value(key, value_schema, end, field_check):
            break
    return writer.reply()


def reply_plan(schema: Any, *, records: bool = False) -> list[tuple[str, str]] | RecordPlan | None:
    """How a reply to ``schema`` is written field by field: :func:`field_plan`, else (with ``records``)
    :func:`record_plan`; ``None`` leaves it to the whole-object grammar.

    Record lists are not written so by default: on the builder's extraction (180 gold turns, the embedded
    model) they went 1.6 times as fast (7.9 turns per minute against 4.9), and the model wrote fewer
    items, and worse ones (root accuracy 0.68 against 0.76, personalizable turns told apart 0.75
    against 0.87).
    """
    plan = field_plan(schema)
    return plan if plan is not None or not records else record_plan(schema)


def generate_planned(
    llama: Any,
    prompt_tokens: Sequence[int],
    plan: Sequence[tuple[str, str]] | RecordPlan,
    *,
    max_tokens: int | None,
    seed: int | None,
    sampling: dict[str, Any],
    field_check: FieldCheck | None = None,
) -> dict[str, Any]:
    """:func:`generate_records` or :func:`generate_fields`, as :func:`reply_plan` planned the reply."""
    options: dict[str, Any] = {
        "max_tokens": max_tokens, "seed": seed, "sampling": sampling, "field_check": field_check
    }  # fmt: skip
    if isinstance(plan, RecordPlan):
        return generate_records(llama, prompt_tokens, plan, **options)
    return generate_fields(llama, prompt_tokens, plan, **options)


def generate_records(
    llama: Any,
    prompt_tokens: Sequence[int],
    plan: RecordPlan,
    *,
    max_tokens: int | None,
    seed: int | None,
    sampling: dict[str, Any],
    field_check: FieldCheck | None = None,
) -> dict[str, Any]:
    """Generate ``{key: [record, ...]}`` after ``prompt_tokens``, record by record and field by field.

    The opening, each record's keys and punctuation, and the closing are written as prompt; the model
    generates each value (:func:`generate_fields`) and, after each record (and before the first), the
    choice between another record and the end of the list, within ``plan.min_items`` and
    ``plan.max_items``. Arguments and result as :func:`generate_fields` (``field_check`` sees each record's
    values under their keys).
    """
    writer = _Writer(llama, prompt_tokens, max_tokens=max_tokens, seed=seed, sampling=sampling)
    writer.write("{" + json.dumps(plan.key, ensure_ascii=False) + ": [")
    # keys are written without the space after the colon: the model writes it with the value's opening
    # quote (' "', one token), as in its own JSON; written apart, a key's space made the embedded model
    # open values with tokens it would not have chosen (root accuracy 0.38 on 12 gold turns)
    first_key = json.dumps(plan.fields[0][0], ensure_ascii=False) + ":"
    count = 0
    while True:
        # a record opens with its first key: the model's own next token is often '{"' (or ', {"'), which
        # a choice of '{' alone would not allow; and the list closes with the reply ("]}", one token too)
        opening = ("{" if count == 0 else ", {") + first_key
        if plan.max_items is not None and count >= plan.max_items:
            writer.write("]}")
            break
        if count < plan.min_items:
            writer.write(opening)
        else:
            choice = writer.choose((opening, "]}"))
            if choice is None:  # out of tokens
                break
            if choice == "]}":
                break
        for index, (key, value_schema) in enumerate(plan.fields):
            if index:
                writer.write(" " + json.dumps(key, ensure_ascii=False) + ":")
            end = "}" if index == len(plan.fields) - 1 else ","
            if not writer.value(key, value_schema, end, field_check, spaced=True):
                return writer.reply()
        count += 1
    return writer.reply()


class _Writer:
    """One reply being written: the tokens so far (prompt, written parts and sampled values), its text, and
    what was generated."""

    def __init__(
        self,
        llama: Any,
        prompt_tokens: Sequence[int],
        *,
        max_tokens: int | None,
        seed: int | None,
        sampling: dict[str, Any],
    ) -> None:
        import llama_cpp

        vocab = llama._model.vocab
        self.llama = llama
        self.prompt = len(prompt_tokens)
        self.tokens = list(prompt_tokens)
        self.text = ""
        self.max_tokens = max_tokens
        self.sampling = sampling
        self.n_ctx = int(llama.n_ctx())
        self.eog = lambda token: bool(llama_cpp.llama_vocab_is_eog(vocab, token))
        self.rng_seed = seed if seed is not None else random.Random(llama._seed).randint(0, 2**32)
        self.generated = 0
        self.resampled = 0
        self.samples = 0  # values and choices sampled so far: each gets its own seed
        self.finish = "stop"

    def write(self, text: str) -> None:
        """Append ``text`` as prompt (evaluated with the next sample, in one batch)."""
        self.text += text
        self.tokens += self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def _budget(self) -> int | None:
        return None if self.max_tokens is None else self.max_tokens - self.generated

    def _seed(self, attempt: int = 0) -> None:
        self.llama.set_seed((self.rng_seed + self.samples + attempt * _RESAMPLE_SEED_STEP) % 2**32)

    def choose(self, options: tuple[str, ...]) -> str | None:
        """Sample which of ``options`` comes next and append it; ``None`` when the tokens ran out."""
        self._seed()
        self.samples += 1
        text, sampled, forced, finish = _sample(
            self.llama, self.tokens, _choice_grammar(options), self.sampling,
            budget=self._budget(), n_ctx=self.n_ctx, eog=self.eog, options=options,
            done=lambda t: t in options,
        )  # fmt: skip
        self.text += text
        self.tokens += sampled + forced
        self.generated += len(sampled)
        if finish != "stop" or text not in options:
            self.finish = "length" if finish == "stop" else finish
            return None
        return text

    def value(
        self,
        key: str,
        value_schema: str,
        end: str,
        field_check: FieldCheck | None = None,
        *,
        spaced: bool = False,
    ) -> bool:
        """Sample one value followed by ``end`` (and again where ``field_check`` refuses it) and append
        it; ``False`` when the reply ends there (the tokens or the context ran out). ``spaced``: the key
        was written without the space after its colon, which the model may then write itself."""
        schema = value_schema
        banned: list[int] = []
        for attempt in range(RESAMPLES + 1):
            self._seed(attempt)
            grammar = _value_grammar(schema, end, spaced)
            if banned:
                grammar = with_banned_tokens(grammar, banned)
            value, sampled, forced, finish = _sample(
                self.llama, self.tokens, grammar, self.sampling, budget=self._budget(), n_ctx=self.n_ctx,
                eog=self.eog, options=_options(schema, end) if spaced else (),
                done=lambda t: _finished(t, end),
            )  # fmt: skip
            if field_check is None or not _finished(value, end):
                break
            again = field_check(key, json.loads(value.rstrip()[: -len(end)], strict=False))
            if again is None or attempt == RESAMPLES:
                break
            self.generated += len(sampled)  # the discarded sample was generated all the same
            self.resampled += 1
            schema = json.dumps(dict(again), sort_keys=True)
            # and without its first word: under a new seed alone, the embedded model wrote the phrase it
            # had copied from earlier in the dialogue ("Highest energy level during the day") once more
            banned.extend(_first_word(self.llama, sampled))
        self.samples += 1
        self.text += value
        self.tokens += sampled + forced
        self.generated += len(sampled)
        self.finish = finish
        return finish == "stop"

    def reply(self) -> dict[str, Any]:
        """The OpenAI-shaped chat completion of what was written."""
        completion = len(self.tokens) - self.prompt
        return {
            "id": f"chatcmpl-fields-{time.time_ns()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(getattr(self.llama, "model_path", "")),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": self.text},
                    "finish_reason": self.finish,
                }
            ],
            "usage": {
                "prompt_tokens": self.prompt,
                "completion_tokens": completion,
                "total_tokens": self.prompt + completion,
                "generated_tokens": self.generated,
                "resampled_values": self.resampled,
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
    text, sampled, forced, finish = _sample(
        llama, tokens, grammar, sampling, budget=budget, n_ctx=n_ctx, eog=eog,
        done=lambda t: _finished(t, end),
    )  # fmt: skip
    return text, sampled + forced, finish


def _sample(
    llama: Any,
    tokens: list[int],
    grammar: Any,
    sampling: dict[str, Any],
    *,
    budget: int | None,
    n_ctx: int,
    eog: Any,
    done: Any,
    options: Sequence[str] = (),
) -> tuple[str, list[int], list[int], str]:
    """Sample after ``tokens`` under ``grammar`` until ``done(text)``: the text, the sampled tokens, the
    tokens written instead of sampled, and the finish reason.

    ``options``: the only texts the grammar allows (an enum's, with their separator); as soon as the text
    sampled so far opens exactly one of them, the rest of it is written, not sampled.
    """
    if len(tokens) + 1 > n_ctx:
        raise ValueError(f"Requested tokens ({len(tokens)}) exceed context window of {n_ctx}")
    sampled: list[int] = []
    raw = b""
    if budget is not None and budget <= 0:
        return "", sampled, [], "length"
    generator = llama.generate(tokens, grammar=grammar, **sampling)
    try:
        for token in generator:
            if eog(token):
                return raw.decode("utf-8", errors="replace"), sampled, [], "stop"
            sampled.append(token)
            raw += llama.detokenize([token])
            value = raw.decode("utf-8", errors="ignore")
            if done(value):
                return value, sampled, [], "stop"
            if options:
                opened = [o for o in options if o.startswith(value)]
                if len(opened) == 1:  # the rest is decided: write it
                    rest = opened[0][len(value) :]
                    forced = llama.tokenize(rest.encode("utf-8"), add_bos=False, special=False)
                    if len(tokens) + len(sampled) + len(forced) <= n_ctx:
                        return opened[0], sampled, forced, "stop"
            if budget is not None and len(sampled) >= budget:
                return value, sampled, [], "length"
            if len(tokens) + len(sampled) >= n_ctx:
                return value, sampled, [], "length"
    finally:
        generator.close()
    return raw.decode("utf-8", errors="replace"), sampled, [], "stop"
