"""Steering: the people and dates a question names, turned into a search restriction the user can see and undo.

"What did Psaki say on 4 March about vaccines?" names a person (a speaker in the collection) and a
day; "in March 2021" a month; "the press secretary" a role that document titles name ("Press
Briefing by Press Secretary Jen Psaki"); "the reporter" the reporters' turns. `Steerer.read` finds
them and returns a `Steering` (people as passage speaker values, an inclusive date range, and the
words that named them). The engine searches with it as a filter and, when that leaves nothing that
answers, searches without it and says so (assistant/engine.py).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from assistant.passages import REPORTER

MONTHS = {name.casefold(): number for number, name in enumerate(calendar.month_name) if name}
MONTHS |= {name.casefold(): number for number, name in enumerate(calendar.month_abbr) if name}
MONTHS["sept"] = 9
MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
YEAR = r"(?P<year>(?:19|20)\d\d)"
DATE_PATTERNS = [
    re.compile(rf"\b{YEAR}-(?P<month_number>[01]\d)-(?P<day>[0-3]\d)\b"),
    re.compile(rf"\b{DAY}(?:\s+of)?\s+{MONTH}(?:,?\s+{YEAR})?\b", re.IGNORECASE),
    re.compile(rf"\b{MONTH}\s+{DAY}(?:,?\s+{YEAR})?\b", re.IGNORECASE),
    re.compile(rf"\b{MONTH}(?:\s+of)?\s+{YEAR}\b", re.IGNORECASE),
    re.compile(rf"\b(?:in|during|of)\s+{YEAR}\b", re.IGNORECASE),
]
REPORTER_WORDS = re.compile(r"\b(?:the|a|one)\s+(?:reporters?|journalists?|correspondents?)\b", re.IGNORECASE)
# "Press Briefing by Press Secretary Jen Psaki", "Principal Deputy Press Secretary Karine Jean-Pierre"
ROLE_IN_TITLE = re.compile(
    r"\b(?P<role>(?:Principal\s+)?(?:Deputy\s+)?Press\s+Secretary)\s+(?P<name>[A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+){1,3})"
)
HONORIFICS = frozenset(
    ["mr", "mrs", "ms", "dr", "secretary", "ambassador", "administrator", "general", "senator", "governor", "director"]
)
COMMON = frozenset(
    [
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "whose",
        "why",
        "how",
        "does",
        "did",
        "said",
        "says",
        "according",
        "about",
    ]
)


@dataclass(frozen=True)
class Steering:
    """A restriction read from the question: passage speakers, an inclusive date range, and how it was named."""

    people: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None
    named: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.people or self.date_from or self.date_to)

    @property
    def description(self) -> str:
        """E.g. 'Jen Psaki, 4 March 2021'."""
        return ", ".join(self.named)


class Steerer:
    """Reads people and dates in questions against one collection's speakers, titles and dates."""

    def __init__(self, people: dict[str, tuple[str, ...]], titles: list[str], years: list[int]) -> None:
        """people: {name: speaker values} (Index.people()); titles: document titles; years: document years."""
        self.years = sorted(set(years))
        self.aliases: dict[str, tuple[str, tuple[str, ...]]] = {}
        for name, values in people.items():
            if name == REPORTER:
                continue
            for alias in _aliases(name, values):
                if alias in self.aliases and self.aliases[alias][0] != name:
                    self.aliases[alias] = ("", ())  # two people answer to it: ambiguous, never steer
                else:
                    self.aliases[alias] = (name, values)
        self.reporter_values = people.get(REPORTER, (REPORTER,))
        self.roles: dict[str, tuple[str, tuple[str, ...]]] = {}
        for title in titles:
            for found in ROLE_IN_TITLE.finditer(title or ""):
                role = " ".join(found["role"].split()).casefold()
                person = self.aliases.get(found["name"].split()[-1].casefold())
                if person and person[0]:
                    self.roles.setdefault(role, person)

    def read(self, question: str) -> Steering:
        """The people and dates the question names; an empty Steering when it names none it can place."""
        people, named = [], []
        for role, (name, values) in sorted(self.roles.items(), key=lambda item: -len(item[0])):
            if re.search(rf"\bthe\s+{re.escape(role)}\b", question, re.IGNORECASE):
                people += values
                named.append(name)
                break
        if not people:
            for word in re.findall(r"\b[A-Z][\w'’-]{3,}\b", question):
                person = self.aliases.get(word.casefold())
                if person and person[0] and person[0] not in named and word.casefold() not in COMMON:
                    people += person[1]
                    named.append(person[0])
        if REPORTER_WORDS.search(question):
            people += self.reporter_values
            named.append("reporters")
        date_from, date_to, said = self._dates(question)
        if said:
            named.append(said)
        return Steering(tuple(dict.fromkeys(people)), date_from, date_to, tuple(named))

    def _dates(self, question: str) -> tuple[str | None, str | None, str | None]:
        for pattern in DATE_PATTERNS:
            found = pattern.search(question)
            if not found:
                continue
            parts = found.groupdict()
            year = int(parts["year"]) if parts.get("year") else (self.years[0] if len(self.years) == 1 else None)
            if year is None:
                return None, None, None  # "on 4 March" in a collection of several years: cannot place it
            month = parts.get("month_number") or (
                MONTHS[parts["month"].casefold().rstrip(".")] if parts.get("month") else None
            )
            try:
                if month and parts.get("day"):
                    day = dt.date(year, int(month), int(parts["day"]))
                    return day.isoformat(), day.isoformat(), f"{day.day} {day:%B %Y}"
                if month:
                    last = calendar.monthrange(year, int(month))[1]
                    first = dt.date(year, int(month), 1)
                    return first.isoformat(), dt.date(year, int(month), last).isoformat(), f"{first:%B %Y}"
            except ValueError:
                return None, None, None  # "31 February": not a day, so not a restriction
            return f"{year}-01-01", f"{year}-12-31", str(year)
        return None, None, None


def _aliases(name: str, values: tuple[str, ...]) -> set[str]:
    """Surnames a question may use for a person: 'Psaki' for 'Jen Psaki' and for the label 'MS. PSAKI'."""
    aliases = set()
    for value in (name, *values):
        words = [w.strip(".,").casefold() for w in value.split()]
        words = [w for w in words if w and w not in HONORIFICS]
        if words and len(words[-1]) >= 4 and words[-1] not in COMMON:
            aliases.add(words[-1])
    return aliases
