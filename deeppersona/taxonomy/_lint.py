"""Heuristics for names that are not general attribute categories (paper, "Check Node" / "Check Path").

A node must name a general, personalizable category. These word lists catch the usual slips of
generated taxonomies: specific instances (brands, platforms, companies, countries, big cities,
named religions or leagues), bare values (``"High"``, ``"Married"``) and business or marketing terms.
They are heuristics: a clean result does not prove a name is good.
"""

from __future__ import annotations

import re

from ._canonical import canonical_key

__all__ = ["instance_problems"]

_NAMED_ENTITIES = frozenset(
    canonical_key(n)
    for n in (
        # brands, products, companies, platforms
        "Adidas", "Airbnb", "Amazon", "Android", "Apple", "Audi", "BMW", "Chanel", "Coca-Cola", "Costco",
        "Discord", "Disney", "Facebook", "Fitbit", "Ford", "Gmail", "Google", "Gucci", "Honda", "Hulu",
        "IKEA", "Instagram", "iPad", "iPhone", "Kindle", "LinkedIn", "Linux", "Lululemon", "Marvel",
        "McDonald's", "Mercedes", "Microsoft", "Netflix", "Nike", "Nintendo", "Nvidia", "Pepsi",
        "Peloton", "Pinterest", "PlayStation", "Prada", "Reddit", "Rolex", "Samsung", "Slack",
        "Snapchat", "Sony", "Spotify", "Starbucks", "Telegram", "Tesla", "TikTok", "Toyota",
        "Twitch", "Twitter", "Uber", "Walmart", "WeChat", "WhatsApp", "Xbox", "YouTube",
        "Zoom", "ChatGPT", "OpenAI", "Weibo", "Douyin", "Tinder", "Bumble", "Etsy", "eBay",
        "Zara", "Shein", "Lego", "Duolingo", "Coursera", "Udemy", "Wikipedia", "Fortnite",
        "Minecraft", "Roblox", "Patreon", "Substack", "Kickstarter", "PayPal", "Venmo",
        "Mastercard", "Pokemon", "Harry Potter", "Star Wars",
        # countries and regions
        "Afghanistan", "Argentina", "Australia", "Bangladesh", "Brazil", "Canada", "Chile", "China",
        "Colombia", "Egypt", "Ethiopia", "France", "Germany", "Ghana", "Greece", "India", "Indonesia",
        "Iran", "Iraq", "Ireland", "Israel", "Italy", "Japan", "Kenya", "Korea", "Malaysia", "Mexico",
        "Morocco", "Netherlands", "New Zealand", "Nigeria", "Norway", "Pakistan", "Peru", "Philippines",
        "Poland", "Portugal", "Russia", "Saudi Arabia", "South Africa", "Spain", "Sweden", "Switzerland",
        "Tanzania", "Thailand", "Uganda", "Ukraine", "United Kingdom", "United States", "USA", "UK",
        "Vietnam", "America", "Europe", "Africa", "Asia",
        # big cities
        "Bangkok", "Beijing", "Berlin", "Buenos Aires", "Cairo", "Chicago", "Delhi", "Dubai",
        "Hong Kong", "Istanbul", "Jakarta", "Karachi", "Lagos", "Lima", "London", "Los Angeles",
        "Madrid", "Manila", "Mexico City", "Moscow", "Mumbai", "Nairobi", "New York", "Paris", "Rome",
        "San Francisco", "Sao Paulo", "Seoul", "Shanghai", "Singapore", "Sydney", "Tokyo", "Toronto",
        # named religions, parties, leagues, events, languages and tools
        "Buddhism", "Catholicism", "Christianity", "Hinduism", "Islam", "Judaism", "Sikhism",
        "Democrat", "Republican", "NBA", "NFL", "FIFA", "Premier League", "Olympics", "World Cup",
        "Python", "JavaScript", "Java", "Excel", "Photoshop",
        # languages
        "English", "Spanish", "Mandarin", "Hindi", "Arabic", "French", "Swahili",
    )
)
_MAX_ENTITY_WORDS = max(len(e.split()) for e in _NAMED_ENTITIES)

_VALUE_NAMES = frozenset(
    canonical_key(n)
    for n in (
        "Low", "Medium", "High", "Very High", "Very Low", "Moderate", "Yes", "No", "None", "Other",
        "Male", "Female", "Single", "Married", "Divorced", "Widowed", "Beginner", "Intermediate",
        "Advanced", "Expert", "Daily", "Weekly", "Monthly", "Yearly", "Always", "Often", "Sometimes",
        "Rarely", "Never", "Positive", "Negative", "Good", "Bad", "Excellent", "Poor", "Average",
        "Miscellaneous", "General", "Misc", "Unknown", "Not Applicable",
    )
)

_MARKETING = re.compile(
    r"\b(customer (?:segment|persona|profile|lifetime value|journey|acquisition)|consumer segment|"
    r"target (?:audience|market|demographic)|market (?:segment|share)|conversion rate|sales funnel|"
    r"marketing funnel|ad campaign|marketing campaign|roi|kpi|click through|sku|upsell|cross sell|churn|"
    r"lead generation|brand (?:awareness|equity|positioning|ambassador)|product (?:line|launch|portfolio|"
    r"positioning|sku|model)|engagement rate|retention rate|ad impressions|ad spend|monetization strategy)\b"
)
_SPECIFIC_INSTANCE = re.compile(r"\b(brand|product|model|edition|version|series|type|level|tier) [a-z]\b$")


def instance_problems(name: str) -> list[str]:
    """Return why ``name`` looks like a specific instance, a value or a marketing term (empty if not).

    Args:
        name: An attribute name.

    Returns:
        Complaints, each with a code prefix: ``named-entity:``, ``value-like:`` or ``marketing-term:``.
    """
    key = canonical_key(name)
    words = key.split()
    issues: list[str] = []
    grams = {
        " ".join(words[i : i + n]) for n in range(1, _MAX_ENTITY_WORDS + 1) for i in range(len(words) - n + 1)
    }
    hits = sorted(grams & _NAMED_ENTITIES)
    if hits:
        issues.append(f"named-entity:names a specific instance ({', '.join(hits)}); use a general category")
    if key in _VALUE_NAMES:
        issues.append(f"value-like:{name!r} is a value, not a category; make it an option of a value type")
    if _MARKETING.search(key):
        issues.append("marketing-term:a business or marketing term, not a personal attribute")
    if _SPECIFIC_INSTANCE.search(key):
        issues.append("named-entity:names one labelled instance; use a general category")
    return issues
