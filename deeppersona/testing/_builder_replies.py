"""Plausible replies to the taxonomy builder's prompts, for demos, examples and CLI tests (``--model fake``)."""

from __future__ import annotations

import re
import zlib
from typing import Any

from ..taxonomy import ROOT_CATEGORIES

__all__ = ["builder_fake_handler", "checked_items", "fake_builder_llm"]

_CONVERSATION = re.compile(r"### Conversation\n(.*?)### End of conversation", re.S)
_NAMES = re.compile(r"^- (.+)$", re.M)
_FIRST_PERSON = re.compile(r"\b(i|i'm|i've|my|me|we|our)\b", re.I)

(DEMO, HEALTH, PSYCH, CULTURE, RELATIONS, CAREER, EDUCATION, HOBBIES, ROUTINE, VALUES, EMOTION, MEDIA) = (
    ROOT_CATEGORIES
)

# keyword pattern -> path variants (spelling variants exercise the merge stage; a few invalid tails
# exercise the filters)
_RULES: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] = (
    (
        r"\bsleep|insomnia|night shift",
        (
            (ROUTINE, "Sleep Patterns", "Sleep Schedule"),
            (ROUTINE, "sleep_patterns", "Sleeping Schedule"),
            (HEALTH, "Sleep Habits"),
        ),
    ),
    (
        r"\bvegan|vegetarian|diet|meal|cook|recipe|food",
        (
            (HEALTH, "Diet", "Dietary Preferences"),
            (HEALTH, "Diet", "Food Preferences"),
            (HOBBIES, "Cooking", "Cooking Skills"),
        ),
    ),
    (
        r"\brun|gym|exercise|workout|marathon|fitness|yoga",
        ((HEALTH, "Physical Activity", "Exercise Habits"), (HEALTH, "PhysicalActivity", "Workout Routine")),
    ),
    (
        r"\bnurse|teacher|engineer|developer|manager|job|work|career|boss|salary",
        (
            (CAREER, "Occupation", "Job Role"),
            (CAREER, "Work Experience"),
            (CAREER, "Occupation", "Google Employer"),
        ),
    ),
    (
        r"\bstudy|degree|university|exam|course|school|student|phd",
        ((EDUCATION, "Educational Background", "Highest Degree"), (EDUCATION, "Learning Style")),
    ),
    (
        r"\bwife|husband|partner|kids?|daughter|son|mother|father|mom|dad|family|children",
        (
            (RELATIONS, "Family", "Family Structure"),
            (RELATIONS, "Family", "Family Composition"),
            (DEMO, "Marital Status"),
        ),
    ),
    (
        r"\bbudget|money|debt|savings|loan|rent|mortgage",
        ((ROUTINE, "Finances", "Budgeting Habits"), (VALUES, "Financial Values")),
    ),
    (
        r"\btravel|trip|vacation|holiday|flight",
        ((HOBBIES, "Travel", "Travel Preferences"), (HOBBIES, "travel", "Travel Style")),
    ),
    (
        r"\banxious|anxiety|stress|burnout|overwhelmed|lonely|depress",
        ((PSYCH, "Mental Health", "Stress Management"), (EMOTION, "Coping Strategies")),
    ),
    (
        r"\bmusic|guitar|piano|sing|band",
        ((HOBBIES, "Music", "Musical Preferences"), (HOBBIES, "Music", "Instruments Played")),
    ),
    (
        r"\bbook|read|novel|podcast|netflix|movie|show",
        ((MEDIA, "Reading Habits"), (MEDIA, "Entertainment Preferences", "Genre Preferences")),
    ),
    (
        r"\bchurch|mosque|temple|faith|pray|religio|ramadan",
        ((VALUES, "Religion", "Religious Practice"), (CULTURE, "Religious Background")),
    ),
    (
        r"\bmoved|live in|living in|immigra|abroad|city|village",
        ((DEMO, "Location", "Country of Residence"), (CULTURE, "Cultural Background", "Migration History")),
    ),
    (r"\byears? old|\d{2}[- ]year|\bage\b|retire", ((DEMO, "Age", "Life Stage"), (DEMO, "Age Group"))),
    (
        r"\bgarden|paint|photograph|knit|hike|hiking|fish",
        ((HOBBIES, "Creative Hobbies"), (HOBBIES, "Outdoor Activities", "Hiking Experience")),
    ),
)


def _pick(text: str, salt: str, options: tuple[Any, ...]) -> Any:
    return options[zlib.crc32((salt + text).encode()) % len(options)]


def _label(question: str) -> str:
    """A first-person question is personalizable (now and then only partially); others are not."""
    if _FIRST_PERSON.search(question):
        return str(_pick(question, "l", ("Personalizable", "Personalizable", "Partially Personalizable")))
    return "No"


def checked_items(request: Any) -> dict[str, str]:
    """The items of a builder Check Node / Check Path request, or of its rewrite request: ``reply key ->
    the name or path``. The keys number the items: ``"3. Python"``.

    A handler answers a check (call sites ``builder.check_node``, ``builder.check_path``) with
    ``{key: True or False}`` (valid or not) and the rewrite request that follows for the items judged
    invalid (``builder.rewrite_node``, ``builder.rewrite_path``) with ``{key: rewrite or "none"}``, a path
    rewrite written as ``"A > B"``::

        def handler(request):
            if request.call_site == "builder.check_node":
                return {key: name != "Python" for key, name in checked_items(request).items()}
            if request.call_site == "builder.rewrite_node":
                return dict.fromkeys(checked_items(request), "Programming Languages")
    """
    return {key: key.split(". ", 1)[1] for key in request.response_model.json_schema["properties"]}


def builder_fake_handler(request: Any) -> Any:
    """Answer the builder's prompts plausibly and deterministically (a ``FakeLLM`` handler).

    Classification says "Personalizable" when the user writes in the first person; extraction maps
    keywords of the conversation to attribute paths (with spelling variants and a few invalid
    tails, so every stage has work to do); Check Node, Check Path and merge confirmation accept
    everything. Other requests fall through to the FakeLLM's schema-based replies.

    Args:
        request: A :class:`deeppersona.testing.FakeRequest`.

    Returns:
        A reply dict, or ``None`` to fall through.
    """
    site = getattr(request, "call_site", "")
    prompt = request.last_user_message
    if site == "builder.classify":
        match = _CONVERSATION.search(prompt)
        convo = match.group(1) if match else prompt
        label = _label(convo.split("ASSISTANT:")[0])
        reason = (
            "The user shares personal circumstances that change what a good answer is."
            if label != "No"
            else "A factual question whose answer is the same for everyone."
        )
        return {"category": "advice", "reason": reason, "is_personalizable": label}
    if site in ("builder.extract", "builder.classify+extract"):
        match = _CONVERSATION.search(prompt)
        convo = match.group(1) if match else prompt
        lowered = convo.lower()
        items = []
        for pattern, options in _RULES:
            found = re.search(pattern, lowered)
            if found:
                root, category, *leaf = _pick(lowered, pattern, options)
                attribute = leaf[0] if leaf else ""  # a two-level path
                items.append(
                    {"root": root, "category": category, "attribute": attribute, "value": found.group(0)}
                )
        if site == "builder.classify+extract" and _label(convo.split("ASSISTANT:")[0]) == "No":
            items = []  # one call: nothing extracted is the label "No"
        return {"attributes": items[:8]}
    if site in ("builder.check_node", "builder.check_path"):
        return dict.fromkeys(checked_items(request), True)
    if site in ("builder.rewrite_node", "builder.rewrite_path"):
        return dict.fromkeys(checked_items(request), "none")
    if site == "builder.merge":
        return {"mapping": {n.strip(): n.strip() for n in _NAMES.findall(prompt)}}
    return None


def fake_builder_llm(seed: int = 0, **kwargs: Any) -> Any:
    """Return a :class:`deeppersona.testing.FakeLLM` that answers the builder's prompts plausibly.

    Args:
        seed: The fake's seed.
        **kwargs: Passed to ``FakeLLM`` (``latency``, ``failures``...).

    Returns:
        The fake LLM (offline, deterministic).
    """
    from ._fake_llm import FakeLLM

    return FakeLLM(seed=seed, handler=builder_fake_handler, **kwargs)
