"""Natural job titles for the occupation titles of the shipped tables (BLS OEWS and O*NET).

The tables name occupations the way statisticians do: plural, grouped, with qualifiers after commas
("Farmworkers and Laborers, Crop, Nursery, and Greenhouse", "Cooks, Restaurant", "Managers, All Other").
People do not talk like that, and a prompt or a narrative that does ("a 49-year-old male farmworkers and
laborers, crop, nursery, and greenhouse") reads as machine output. :func:`job_title` turns such a title
into the singular job title a person would use ("crop farmworker", "restaurant cook", "manager").

The conversion is rule-based and deterministic (no model, no data files):

1. ``", Except ..."``, ``", Including ..."`` and ``", All Other"`` are dropped.
2. A leading list of modifiers shares the head that follows it ("Art, Drama, and Music Teachers" ->
   "art teacher"); of a list of occupations the first is kept ("Inspectors, Testers, Sorters ..." ->
   "inspector"), as is the first of two joined by "and" ("Farmworkers and Laborers" -> "farmworker"),
   while "Advertising and Promotions Managers" keeps its head ("advertising manager").
3. A qualifier after a comma becomes a modifier ("Cooks, Restaurant" -> "restaurant cook"); "General"
   and "Recordkeeping" are dropped; "Postsecondary" teachers become professors.
4. "First-Line Supervisors of X" becomes "X supervisor"; "Helpers--X" becomes "X helper".
5. The head noun is made singular and the whole title lower-case, at most five words.

About two dozen titles that the rules would word awkwardly have a hand-written title in
:data:`TITLE_OVERRIDES`. Text that does not look like a table title (lower-case or singular free text
such as an anchored ``"night-shift nurse"``) is returned unchanged, so anchored occupations keep the
user's own words.
"""

from __future__ import annotations

import re

__all__ = ["TITLE_OVERRIDES", "job_title"]

TITLE_OVERRIDES: dict[str, str] = {
    "Adult Basic Education, Adult Secondary Education, and English as a Second Language Instructors": (
        "adult education instructor"
    ),
    "Agents and Business Managers of Artists, Performers, and Athletes": "talent agent",
    "Biofuels/Biodiesel Technology and Product Development Managers": "biofuels development manager",
    "Bookkeeping, Accounting, and Auditing Clerks": "bookkeeper",
    "Captains, Mates, and Pilots of Water Vessels": "ship captain",
    "Cleaning, Washing, and Metal Pickling Equipment Operators and Tenders": "cleaning equipment operator",
    "Clergy": "member of the clergy",
    "Compensation, Benefits, and Job Analysis Specialists": "compensation specialist",
    "Computer Numerically Controlled Tool Operators": "cnc machine operator",
    "Computer Numerically Controlled Tool Programmers": "cnc programmer",
    "Computer Occupations, All Other": "computer specialist",
    "Computer, Automated Teller, and Office Machine Repairers": "office machine repairer",
    "Driver/Sales Workers": "delivery driver",
    "English Language and Literature Teachers, Postsecondary": "literature professor",
    "Excavating and Loading Machine and Dragline Operators, Surface Mining": "excavator operator",
    "Fallers": "tree faller",
    "Farmworkers, Farm, Ranch, and Aquacultural Animals": "livestock farmworker",
    "First-Line Supervisors of Helpers, Laborers, and Material Movers, Hand": "laborer supervisor",
    "Fish and Game Wardens": "game warden",
    "Heating, Air Conditioning, and Refrigeration Mechanics and Installers": "heating and cooling mechanic",
    "Mathematical Science Occupations, All Other": "mathematical scientist",
    "Meeting, Convention, and Event Planners": "event planner",
    "News Analysts, Reporters, and Journalists": "journalist",
    "Physicians, Pathologists": "pathologist",
    "Property, Real Estate, and Community Association Managers": "property manager",
    "Securities, Commodities, and Financial Services Sales Agents": "securities sales agent",
    "Tellers": "bank teller",
    "Textile Winding, Twisting, and Drawing Out Machine Setters, Operators, and Tenders": (
        "textile winding machine operator"
    ),
    "Word Processors and Typists": "typist",
    "Architectural and Engineering Managers": "engineering manager",
    "Criminal Justice and Law Enforcement Teachers, Postsecondary": "criminal justice professor",
    "Customs and Border Protection Officers": "customs officer",
    "Drywall and Ceiling Tile Installers": "drywall installer",
    "Education Administrators, Kindergarten through Secondary": "school administrator",
    "Education and Childcare Administrators, Preschool and Daycare": "preschool administrator",
    "First-Line Supervisors of Transportation and Material Moving Workers, Except Aircraft Cargo Handling": (
        "transportation supervisor"
    ),
    "Gambling and Sports Book Writers and Runners": "sports book writer",
    "Health and Safety Engineers, Except Mining Safety Engineers and Inspectors": "health and safety engineer",
    "Healthcare Diagnosing or Treating Practitioners, All Other": "healthcare practitioner",
    "Licensed Practical and Licensed Vocational Nurses": "licensed practical nurse",
    "Lifeguards, Ski Patrol, and Other Recreational Protective Service Workers": "lifeguard",
    "Manufactured Building and Mobile Home Installers": "mobile home installer",
    "Mental Health and Substance Abuse Social Workers": "mental health social worker",
    "Outdoor Power Equipment and Other Small Engine Mechanics": "small engine mechanic",
    "Postsecondary Teachers, All Other": "university lecturer",
    "Refuse and Recyclable Material Collectors": "refuse collector",
    "Substance Abuse and Behavioral Disorder Counselors": "substance abuse counselor",
    "Substance Abuse, Behavioral Disorder, and Mental Health Counselors": "substance abuse counselor",
    "Transit and Railroad Police": "transit police officer",
    "Water and Wastewater Treatment Plant and System Operators": "water treatment plant operator",
}
"""Hand-written titles for the table titles the rules would word awkwardly (table title -> job title)."""

MAX_WORDS = 5
"""The longest job title :func:`job_title` returns, in words."""

# plural words that are not occupations (modifiers such as "Sales" or "Sciences"), folded
_NOT_HEADS = frozenset(
    {
    "accounts", "activities", "affairs", "analysis", "animals", "avionics", "benefits", "biofuels",
    "bioinformatics", "biomass", "bus", "business", "claims", "collections", "commodities",
    "communications", "continuous", "customs", "economics", "electronics", "engines", "explosives",
    "facilities", "fiberglass", "fibers", "fitness", "forensics", "furnishings", "gas", "glass", "goods",
    "grounds", "hazardous", "informatics", "logistics", "loss", "materials", "mathematics", "mechatronics",
    "microsystems", "miscellaneous", "nanosystems", "news", "occupations", "operations", "parts",
    "photonics", "physics", "precious", "prepress", "press", "process", "products", "programs",
    "promotions", "records", "relations", "religious", "resources", "robotics", "sales", "sciences",
    "securities", "services", "simultaneous", "specialties", "sports", "studies", "surfaces", "systems",
    "telecommunications", "tiles", "trades", "utilities", "vehicles", "vessels", "wellness", "sheriffs",
    "as"
    }
)  # fmt: skip
_LOWER_WORDS = frozenset({"and", "or", "of", "the", "as", "a", "to", "through", "in", "for", "on", "by"})
_DROPPED_QUALIFIERS = frozenset({"general", "recordkeeping", "clerical"})
_FIXED_QUALIFIERS = frozenset({"oil and gas"})  # kept whole; other qualifiers keep their first conjunct
_CUT = re.compile(r",?\s+(?:Except|Including)\b.*$|,\s*All Other\b.*$", re.IGNORECASE)
_CONJ = re.compile(r"\s+(?:and|or)\s+")
_SUPERVISORS = re.compile(r"^First-Line Supervisors of\s+", re.IGNORECASE)
_HELPERS = re.compile(r"^Helpers--", re.IGNORECASE)


def job_title(title: str) -> str:
    """The natural singular job title of an occupation-table title.

    Args:
        title: An occupation as stored in ``demographics["occupation"]``.

    Returns:
        A lower-case job title of at most five words for a table-style title ("Registered Nurses" ->
        "registered nurse", "Farmworkers and Laborers, Crop, Nursery, and Greenhouse" -> "crop
        farmworker", "Managers, All Other" -> "manager"); any other text (an anchored free-text
        occupation, a life-stage label such as "Retired") unchanged.

    Example:
        >>> job_title("Secondary School Teachers, Except Special and Career/Technical Education")
        'secondary school teacher'
        >>> job_title("night-shift nurse")
        'night-shift nurse'
    """
    text = " ".join(str(title).split()).replace(" & ", " and ")
    if not text:
        return str(title)
    override = TITLE_OVERRIDES.get(text)
    if override is not None:
        return override
    if not _table_style(text):
        return str(title)
    converted = _convert(text)
    return converted if converted else str(title)


def _table_style(text: str) -> bool:
    """Title Case words, and a plural head or a comma qualifier (how the tables write titles)."""
    words = re.findall(r"[A-Za-z][\w'/-]*", text)
    if not words:
        return False
    for word in words:
        if word.lower() in _LOWER_WORDS:
            continue
        if not word[0].isupper():
            return False
    main = _before_of(_CUT.sub("", text).split(",")[0])
    return "," in text or _is_head(main.split()[-1])


def _is_head(word: str) -> bool:
    """Whether ``word`` is a plural occupation noun ("Nurses", "Engineers/Architects", "Midwives")."""
    word = word.split("/")[0].split("--")[-1]
    folded = re.sub(r"[^a-z]", "", word.lower())
    if folded in _NOT_HEADS or len(folded) < 3:
        return False
    return folded.endswith("s") and not folded.endswith(("ss", "us", "is"))


def _convert(text: str) -> str:
    helper = False
    supervisor = False
    if _SUPERVISORS.match(text):
        supervisor = True
        text = _SUPERVISORS.sub("", text)
    if _HELPERS.match(text):
        helper = True
        text = _HELPERS.sub("", text)
    text = _CUT.sub("", text).replace("Career/Technical Education", "Vocational")
    segments = [re.sub(r"^(?:and|or)\s+", "", s.strip()) for s in text.split(",") if s.strip()]
    if not segments:
        return ""
    modifiers: list[str] = []
    index = 0
    while index < len(segments) - 1 and not _is_head(_before_of(segments[index]).split()[-1]):
        modifiers.append(segments[index])
        index += 1
    head = segments[index]
    rest = segments[index + 1 :]
    if modifiers:
        words = head.split()
        head = " ".join([modifiers[0], *words[1:]]) if len(words) > 1 else f"{modifiers[0]} {head}"
    head, of_phrase = _split_of(head)
    head = _first_conjunct(head)
    alternatives = [s for s in rest if _is_head(s.split()[-1])]
    qualifiers = [s for s in rest if not _is_head(s.split()[-1])]
    words = head.split()
    if words[-1].lower() == "setters" and any(a.split()[-1].lower() == "operators" for a in alternatives):
        words[-1] = "Operators"
    words = [w for w in words if w.lower() not in ("miscellaneous", "related")] or words
    words[-1] = _singular(words[-1].split("/")[0])
    prefix: list[str] = []
    if of_phrase:
        prefix = _first_conjunct(of_phrase, shared=True).split()
        if re.search(r"[^s]s$", prefix[-1]):
            prefix[-1] = prefix[-1][:-1]  # "Cleaners of Vehicles" -> "vehicle cleaner"
    qualifier = qualifiers[0] if qualifiers else ""
    if qualifier.lower() == "postsecondary":
        if words[-1].lower() == "teacher":
            words[-1] = "professor"
        else:
            prefix = ["university"]
    elif qualifier and qualifier.lower() not in _DROPPED_QUALIFIERS:
        full = qualifier.split()
        fixed = qualifier.lower() in _FIXED_QUALIFIERS and len(full) + len(words) <= MAX_WORDS
        prefix = full if fixed else _phrase_words(qualifier)
    if supervisor:
        if len(words) > 1 and words[-1].lower() == "worker":
            words = words[:-1]
        words = [*words, "supervisor"]
    if helper:
        if len(words) > 1 and words[-1].lower() == "worker":
            words = words[:-1]
        words = [*words, "helper"]
    out = [*prefix, *words]
    out = [w for i, w in enumerate(out) if i == 0 or w.lower() != out[i - 1].lower()]  # "Room Room"
    while len(out) > MAX_WORDS and len(out) > 1:
        out = out[1:]
    return " ".join(out).lower()


def _before_of(segment: str) -> str:
    return segment.split(" of ")[0]


def _split_of(head: str) -> tuple[str, str]:
    """``"Appraisers and Assessors of Real Estate"`` -> (``"Appraisers and Assessors"``, ``"Real Estate"``)."""
    if " of " not in head:
        return head, ""
    before, after = head.split(" of ", 1)
    if _is_head(before.split()[-1]) and len(after.split()) <= 4:
        return before, after
    return head, ""


def _first_conjunct(phrase: str, *, shared: bool = False) -> str:
    """The first occupation of ``"A and B"``, or the shared head of ``"Advertising and Promotions Managers"``.

    With ``shared``, a phrase without an occupation noun also shares its last word ("Personal and
    Business Property" -> "Personal Property").
    """
    parts = _CONJ.split(phrase)
    if len(parts) == 1:
        return phrase
    if shared and not any(_is_head(part.split()[-1]) for part in parts):
        last = parts[-1].split()
        return " ".join([parts[0], *last[1:]])
    for i, part in enumerate(parts):
        if _is_head(part.split()[-1]):
            if i == 0:
                return part
            words = part.split()
            if (
                len(words) == 1 and len(parts[0].split()) > 1
            ):  # "Foundry Mold and Coremakers" -> "Foundry Coremakers"
                return " ".join([*parts[0].split()[:-1], words[0]])
            return " ".join([parts[0], *words[1:]])
    return parts[0]


def _phrase_words(phrase: str) -> list[str]:
    """A qualifier as a modifier: its first conjunct, plurals of a final non-occupation word kept."""
    return _CONJ.split(phrase)[0].split()


def _singular(word: str) -> str:
    lower = word.lower()
    if not _is_head(word):
        return word
    if lower.endswith("wives"):
        return word[:-3] + "fe"
    if lower.endswith("ies") and len(lower) > 4:
        return word[:-3] + "y"
    if lower.endswith(("sses", "ches", "shes", "xes")):
        return word[:-2]
    if lower.endswith("persons"):
        return word[:-1]
    return word[:-1]
