"""The cheap rule-based pre-filter that runs before any LLM judgement (paper Algorithm 3, saving calls).

Each rule names a reason; a node that breaks one is cut from its path together with everything below
it ("delete invalid tails"). The rules are deliberately conservative: the LLM checks that follow catch
the subtler cases (a specific programming language, a job title), the rules catch what never needs a
model (digits, units, brands, marketing jargon, sentences).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..taxonomy import canonical_key

__all__ = ["RuleFilter"]

_DIGIT = re.compile(r"\d")
_CURRENCY_OR_PERCENT = re.compile(r"[$€£¥₹%°]")
_BRAND_WORD = re.compile(r"^[a-z][A-Z]|[a-z][A-Z].*[a-z]")  # iPhone, eBay, YouTube, PlayStation
_ALLCAPS = re.compile(r"^[A-Z]{3,}\+?$")
_SENTENCE = re.compile(r"[?!]|\.\s*$|\b(?:i|i'm|im|me|mine|we|our|ours|you|your)\b", re.IGNORECASE)
_TRADEMARK = re.compile(r"[™®©]")
_OWNER_PREFIX = re.compile(
    r"^\s*(?:my|the user'?s|user'?s|users'?|the person'?s|person'?s|individual'?s|the individual'?s)\s+",
    re.IGNORECASE,
)

_UNITS = frozenset(
    """kg kgs lb lbs cm mm km mi mph kmh kph ml mg mcg oz ft inch inches cal kcal bpm mmhg usd eur gbp inr
    jpy cny ghz mbps gb tb""".split()  # noqa: SIM905
)
_PER_UNIT = re.compile(r"\bper (?:day|week|month|year|hour|night|session|kg|km|mile)\b")

_BRANDS = frozenset(
    """google apple amazon netflix spotify iphone ipad macbook samsung nike adidas tesla toyota honda ford
    bmw mercedes microsoft facebook instagram tiktok youtube twitter whatsapp linkedin reddit snapchat
    pinterest twitch discord telegram wechat uber airbnb starbucks mcdonalds disney playstation xbox
    nintendo fitbit peloton duolingo coursera udemy chatgpt openai android kindle zara ikea costco walmart
    hulu hbo marvel lego pokemon pepsi gucci rolex harvard stanford yale oxford""".split()  # noqa: SIM905
) | frozenset({"coca cola", "new balance", "under armour", "weight watchers", "strava", "garmin", "notion"})

_PLACES = frozenset(
    """usa america china india japan germany france brazil mexico nigeria kenya canada australia italy
    spain russia korea vietnam indonesia pakistan bangladesh egypt ethiopia ghana philippines thailand
    argentina colombia peru chile poland ukraine netherlands sweden norway iran iraq morocco london paris
    tokyo beijing shanghai mumbai delhi lagos nairobi berlin sydney toronto chicago seoul singapore dubai
    cairo madrid rome moscow istanbul bangkok jakarta manila lima bogota johannesburg accra hanoi karachi
    dhaka melbourne vancouver boston seattle""".split()  # noqa: SIM905
) | frozenset(
    {
        "united states",
        "united kingdom",
        "new york",
        "los angeles",
        "san francisco",
        "hong kong",
        "south africa",
        "new zealand",
        "sao paulo",
        "mexico city",
        "buenos aires",
        "cape town",
        "saudi arabia",
    }
)

_BUSINESS = frozenset(
    {
        "roi",
        "kpi",
        "kpis",
        "seo",
        "sem",
        "ctr",
        "b2b",
        "b2c",
        "cpc",
        "cpm",
        "conversion rate",
        "conversion rates",
        "sales funnel",
        "revenue",
        "revenues",
        "profit margin",
        "profit margins",
        "customer acquisition",
        "customer segment",
        "customer segments",
        "customer segmentation",
        "target audience",
        "target market",
        "market share",
        "brand awareness",
        "lead generation",
        "engagement rate",
        "click through",
        "monetization",
        "monetisation",
        "stakeholder",
        "stakeholders",
        "market segment",
        "market segments",
        "user acquisition",
        "churn",
        "churn rate",
        "retention rate",
        "marketing",
        "marketing strategy",
        "advertising",
        "ad campaign",
        "sales strategy",
        "business model",
        "pricing strategy",
        "go to market",
        "growth hacking",
        "upsell",
        "cross sell",
        "competitor analysis",
    }
)

_VAGUE = frozenset(
    {
        "yes",
        "no",
        "true",
        "false",
        "none",
        "null",
        "n a",
        "na",
        "unknown",
        "other",
        "others",
        "misc",
        "miscellaneous",
        "general",
        "various",
        "etc",
        "details",
        "information",
        "info",
        "stuff",
        "things",
        "specific",
        "example",
        "value",
        "values list",
        "attribute",
        "attributes",
    }
)

_ACRONYMS = frozenset(
    """LGBTQ LGBTQ+ LGBT ADHD PTSD OCD DIY STEM MBTI HIV AIDS ESL IELTS TOEFL BMI GPA CEO CFO CTO NGO
    IVF ASL PCOS IBS GERD COPD""".split()  # noqa: SIM905
)


def _ngrams(words: list[str], n_max: int = 3) -> Iterable[str]:
    for n in range(1, n_max + 1):
        for i in range(len(words) - n + 1):
            yield " ".join(words[i : i + n])


@dataclass(frozen=True)
class RuleFilter:
    """Rule-based checks of one attribute name.

    Args:
        max_words: Names with more words are ``too_long``.
        max_chars: Names with more characters are ``too_long``.
        brands: Extra brand or product names (canonical keys) to reject as ``proper_noun``.
        places: Extra place names (canonical keys) to reject as ``proper_noun``.
        business_terms: Extra business or marketing terms (canonical keys) to reject.

    Example:
        >>> rules = RuleFilter()
        >>> rules.problem("Sleep Habits"), rules.problem("8 Hours"), rules.problem("iPhone Usage")
        (None, 'digits', 'proper_noun')
    """

    max_words: int = 6
    max_chars: int = 60
    brands: frozenset[str] = field(default_factory=frozenset)
    places: frozenset[str] = field(default_factory=frozenset)
    business_terms: frozenset[str] = field(default_factory=frozenset)

    @staticmethod
    def clean(name: str) -> str:
        """Return ``name`` without a possessive owner prefix (``"My Hobbies"`` -> ``"Hobbies"``)."""
        return _OWNER_PREFIX.sub("", name).strip()

    def problem(self, name: str, parent: str | None = None) -> str | None:
        """Return why ``name`` is not an acceptable attribute name, or ``None`` if no rule objects.

        Args:
            name: The attribute name (below the root level).
            parent: The parent's name, to catch a child that merely repeats it.

        Returns:
            One of ``"no_letters"``, ``"bad_characters"``, ``"too_long"``, ``"digits"``, ``"measurement"``, ``"proper_noun"``,
            ``"business_term"``, ``"sentence"``, ``"vague"``, ``"repeats_parent"``, or ``None``.
        """
        key = canonical_key(name)
        words = key.split()
        if not words or not any(ch.isalpha() for ch in key):
            return "no_letters"
        if any(ch in name for ch in "<>{}[]|\n\t"):
            return "bad_characters"
        if len(words) > self.max_words or len(name) > self.max_chars:
            return "too_long"
        if _DIGIT.search(name):
            return "digits"
        grams = set(_ngrams(words))
        if _CURRENCY_OR_PERCENT.search(name) or grams & _UNITS or _PER_UNIT.search(key):
            return "measurement"
        if _TRADEMARK.search(name) or grams & (_BRANDS | self.brands) or grams & (_PLACES | self.places):
            return "proper_noun"
        raw_words = re.split(r"[\s_\-/]+", name.strip())
        spaced = len(raw_words) > 1
        if any(_BRAND_WORD.search(w) for w in raw_words) and (spaced or re.match(r"^[a-z][A-Z]", name)):
            return "proper_noun"
        if not name.isupper() and any(_ALLCAPS.match(w) and w not in _ACRONYMS for w in raw_words):
            return "proper_noun"
        if grams & (_BUSINESS | self.business_terms):
            return "business_term"
        if _SENTENCE.search(name.replace("_", " ")):
            return "sentence"
        if key in _VAGUE:
            return "vague"
        if parent is not None and key == canonical_key(parent):
            return "repeats_parent"
        return None
