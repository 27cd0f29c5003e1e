"""Steering: the people and dates a question names, turned into a search restriction the user can see and undo.

"What did Psaki say on 4 March about vaccines?" names a person (a speaker in the collection) and a
day; "in March 2021" a month; "the press secretary" a role that document titles name ("Press
Briefing by Press Secretary Jen Psaki"); "the reporter" the reporters' turns. `Steerer.read` finds
them and returns a `Steering` (people as passage speaker values, an inclusive date range, and the
words that named them). The engine searches with it as a filter and, when that leaves nothing that
answers, searches without it and says so (assistant/engine.py).
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
import re
from dataclasses import dataclass

from assistant.keywords import content_words
from assistant.passages import REPORTER, ROLE_WORDS

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
    # a month without a year, after a word that makes it a date ("in August", "mid-March"; not "may")
    re.compile(rf"\b(?:in|during|early|late|mid)[\s-]+{MONTH}(?!\s*\d)\b", re.IGNORECASE),
]
# "a reporter", "which reporter question", "the journalist's": reporters' turns.
REPORTER_WORDS = re.compile(r"\b(?:reporters?|journalists?|correspondents?)\b", re.IGNORECASE)
# A question that asks what was asked, or about who asked it: reporters' turns answer it.
ABOUT_REPORTERS = re.compile(
    r"\b(?:reporters?|journalists?|correspondents?|outlets?|press\s+corps|ask(?:s|ed|ing)?|questions?|quoted)\b",
    re.IGNORECASE,
)
# A person named right after one of these is spoken to, not speaking: "his question to Psaki", "did a
# reporter ask Mayorkas", "as quoted to Psaki". Who speaks to an official in a briefing is a reporter.
ADDRESSED_AFTER = frozenset(["to", "ask", "asked", "asks", "asking", "tell", "told", "tells", "telling", "pressed"])
# ... and after one of these, what the question is about: "What did Psaki say about Fauci?"
TOPIC_AFTER = frozenset(["about", "regarding", "concerning"])
# Words between a name and the word that says how it is named: "asked the press secretary".
TITLE_WORDS = (ROLE_WORDS | {"the"}) - ADDRESSED_AFTER - TOPIC_AFTER
# "Press Briefing by Press Secretary Jen Psaki", "Principal Deputy Press Secretary Karine Jean-Pierre"
# "Foreign Ministry Spokesperson Zhao Lijian's Regular Press Conference"
ROLE_IN_TITLE = re.compile(
    r"\b(?P<role>(?:Principal\s+)?(?:Deputy\s+)?Press\s+Secretary|Spokes(?:person|man|woman))"
    r"\s+(?P<name>[A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+){1,3})"
)
# Where a title introduces people: "Press Briefing by Press Secretary Jen Psaki and National Security Advisor
# Jake Sullivan, June 7, 2021" has one person between each "by", "and", "with" and comma.
TITLE_SEGMENTS = re.compile(r"\s*[,;&]\s*(?:and\s+)?|\s+(?:and|by|with)\s+")
INITIAL = re.compile(r"[A-Z]\.")
# Lower-case words inside an office's name ("Secretary of the Treasury"); they give no initial ("DHS").
OFFICE_LINK_WORDS = frozenset(["of", "the", "for", "on"])
# Words that make a title's words before a name an office ("Secretary of Energy", "National Security Advisor").
OFFICES = frozenset(
    [
        "secretary",
        "advisor",
        "adviser",
        "director",
        "envoy",
        "administrator",
        "coordinator",
        "chair",
        "chairman",
        "chairwoman",
        "spokesperson",
        "spokesman",
        "spokeswoman",
        "ambassador",
        "general",
        "counselor",
        "counsellor",
        "commissioner",
        "representative",
        "minister",
        "president",
        "governor",
        "mayor",
        "officer",
        "surgeon",
        "attorney",
        "chief",
    ]
)
# Verbs of speaking: "What did Psaki say on 4 March?" asks about nothing but who and when.
SPEECH_WORDS = frozenset(
    [
        "say",
        "said",
        "says",
        "saying",
        "tell",
        "told",
        "tells",
        "ask",
        "asked",
        "asks",
        "asking",
        "speak",
        "spoke",
        "talk",
        "talked",
        "mention",
        "mentioned",
        "state",
        "stated",
        "comment",
        "commented",
        "answer",
        "answered",
        "respond",
        "responded",
        "reply",
        "replied",
        "question",
        "questions",
    ]
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
    #: Whether the question asks about something besides who and when. "What did the journalist ask the
    #: spokesperson?" does not: whatever the people it names said then answers it.
    topic: bool = True
    #: The question without the names and dates that restrict it: what to search for within the restriction.
    rest: str = ""
    #: A date the question names that no document is from ("jobs lost since February 2020" in a 2021
    #: collection): it says what the question is about, not when it was said, so it restricts nothing.
    unplaced: str | None = None
    #: The speaker values of the people the question has spoken to ("a reporter's question to Sullivan"):
    #: the reporters' turns searched are those of documents where they speak.
    addressed: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.people or self.date_from or self.date_to)

    @property
    def description(self) -> str:
        """E.g. 'Jen Psaki, 4 March 2021'."""
        return ", ".join(self.named)


def asks_about_reporters(question: str) -> bool:
    """Whether a question asks what a reporter asked or said ("Which reporter question…", "what did he ask
    Psaki?", "Which outlet…"). Other questions are answered by the officials, not by reporters' turns."""
    return ABOUT_REPORTERS.search(question) is not None


class Steerer:
    """Reads people and dates in questions against one collection's speakers, titles and dates."""

    def __init__(
        self,
        people: dict[str, tuple[str, ...]],
        titles: list[str],
        dates: list[str],
        reporters: tuple[str, ...] | None = None,
    ) -> None:
        """people: {name: speaker values} (Index.people()); titles: document titles; dates: document dates
        (ISO, as metadata holds them); reporters: the speaker values of reporters' turns
        (Index.questioners()), by default REPORTER's."""
        self.dates = sorted(set(dates))
        self.years = sorted({int(date[:4]) for date in self.dates if date[:4].isdigit()})
        self.aliases: dict[str, tuple[str, tuple[str, ...]]] = {}
        for name, values in people.items():
            if name == REPORTER:
                continue
            for alias in _aliases(name, values):
                if alias in self.aliases and self.aliases[alias][0] != name:
                    self.aliases[alias] = ("", ())  # two people answer to it: ambiguous, never steer
                else:
                    self.aliases[alias] = (name, values)
        self.reporter_values = reporters or people.get(REPORTER, (REPORTER,))
        self.roles: dict[str, tuple[str, tuple[str, ...]]] = {}
        for title in titles:
            for found in ROLE_IN_TITLE.finditer(title or ""):
                # the name ends at a possessive: "Spokesperson Zhao Lijian's Regular Press Conference"
                name_words = re.split(r"['’]s\b", found["name"])[0].split()
                self._add_role(found["role"], self.aliases.get(name_words[-1].casefold()))
            for role, person in _offices_in_title(title or "", self.aliases):
                self._add_role(role, person)

    def _add_role(self, role: str, person: tuple[str, tuple[str, ...]] | None) -> None:
        """Record that a title calls `person` by `role` ("national security advisor"), under each way a question
        may say it ("secretary of energy", "energy secretary"). A role two people hold steers nowhere."""
        if not person or not person[0]:
            return
        for said in _role_forms(" ".join(role.split()).casefold()):
            if said in self.roles and self.roles[said][0] != person[0]:
                self.roles[said] = ("", ())
            else:
                self.roles[said] = person

    def read(self, question: str) -> Steering:
        """The people and dates the question names; an empty Steering when it names none it can place.

        A person is read as a speaker only where the question names them as one: someone spoken to
        ("a reporter's question to Psaki") steers to the reporters' turns instead, since in a briefing
        that is who speaks to an official; someone talked about ("about Fauci") steers nowhere. Role
        words alone ("the President" for a `THE PRESIDENT:` label) and possessives ("Biden's call")
        name no speaker.
        """
        people, named, spans, used = [], [], [], []
        listeners, listener_values = [], []  # people spoken to, and their speaker values
        for role, (name, values) in sorted(self.roles.items(), key=lambda item: -len(item[0])):
            found = re.search(rf"\bthe\s+{re.escape(role)}\b", question, re.IGNORECASE)
            if found and not name:
                break  # a role two people hold ("the press secretary" across two years) names neither
            if found:
                position = _position(question, found.start())
                if position != "topic":
                    spans.append(found.span())
                if position == "addressed":
                    listeners.append(name)
                    listener_values += values
                elif position == "speaker":
                    people += values
                    named.append(name)
                    used.append(found.span())
                break
        if not people:
            for found in re.finditer(r"\b[A-Z][\w'’-]{3,}\b", question):
                person = self.aliases.get(found.group().casefold())
                if not person or not person[0] or person[0] in named or found.group().casefold() in COMMON:
                    continue
                position = _position(question, found.start())
                if position == "topic":
                    continue
                spans.append(found.span())
                if position == "addressed":
                    if person[0] not in listeners:
                        listeners.append(person[0])
                        listener_values += person[1]
                    continue
                people += person[1]
                named.append(person[0])
                used.append(_with_titles(question, found.span()))
        mentions = [(m, _position(question, m.start())) for m in REPORTER_WORDS.finditer(question)]
        reporters = [m for m, position in mentions if position == "speaker"]
        spans += [m.span() for m, position in mentions if position != "topic"]
        if reporters or listeners:
            people += self.reporter_values
            named.append("reporters")
            if listeners:
                named.append(f"in documents where {' and '.join(listeners)} speak{'s' if len(listeners) == 1 else ''}")
        date_from, date_to, said, span = self._dates(question)
        unplaced = None
        if said and not self._any_document(date_from, date_to):
            unplaced, date_from, date_to, said = said, None, None, None
        if said:
            named.append(said)
            spans.append(span)
            used.append(span)
        return Steering(
            tuple(dict.fromkeys(people)),
            date_from,
            date_to,
            tuple(named),
            _asks_about_more(question, spans, people),
            _without(question, used),
            unplaced,
            tuple(dict.fromkeys(listener_values)),
        )

    def _any_document(self, date_from: str, date_to: str) -> bool:
        """Whether a document is dated within the range (compared as the search's date filter does)."""
        first = bisect.bisect_left(self.dates, date_from)
        return first < len(self.dates) and self.dates[first] <= date_to + "\uffff"

    def _dates(self, question: str) -> tuple[str | None, str | None, str | None, tuple[int, int]]:
        for pattern in DATE_PATTERNS:
            found = pattern.search(question)
            if not found:
                continue
            parts = found.groupdict()
            year = int(parts["year"]) if parts.get("year") else (self.years[0] if len(self.years) == 1 else None)
            if year is None:
                return None, None, None, found.span()  # "on 4 March" in a collection of several years: cannot place it
            month = parts.get("month_number") or (
                MONTHS[parts["month"].casefold().rstrip(".")] if parts.get("month") else None
            )
            try:
                if month and parts.get("day"):
                    day = dt.date(year, int(month), int(parts["day"]))
                    return day.isoformat(), day.isoformat(), f"{day.day} {day:%B %Y}", found.span()
                if month:
                    last = calendar.monthrange(year, int(month))[1]
                    first = dt.date(year, int(month), 1)
                    return (
                        first.isoformat(),
                        dt.date(year, int(month), last).isoformat(),
                        f"{first:%B %Y}",
                        found.span(),
                    )
            except ValueError:
                return None, None, None, found.span()  # "31 February": not a day, so not a restriction
            return f"{year}-01-01", f"{year}-12-31", str(year), found.span()
        return None, None, None, (0, 0)


def _offices_in_title(title: str, aliases: dict[str, tuple[str, tuple[str, ...]]]) -> list[tuple[str, tuple]]:
    """(role, person) for each known person (`aliases`: surname -> person) a title introduces by an office of
    two words or more: "Press Briefing by Press Secretary Jen Psaki and National Security Advisor Jake
    Sullivan" gives "National Security Advisor" for Jake Sullivan; "... Secretary of Energy Jennifer
    Granholm" "Secretary of Energy". One-word offices ("President Biden") are left out: "the President"
    names no speaker."""
    found = []
    for segment in TITLE_SEGMENTS.split(title):
        words = segment.split()
        person = aliases.get(words[-1].strip(".,").casefold()) if words else None
        if not person or not person[0]:
            continue
        name_words = {w.strip(".,").casefold() for value in (person[0], *person[1]) for w in value.split()}
        while words and (words[-1].strip(".,").casefold() in name_words or INITIAL.fullmatch(words[-1])):
            words.pop()
        if words and words[-1].endswith(".") and words[-1].casefold().strip(".") in HONORIFICS:
            words.pop()  # "Chief Medical Advisor Dr. Anthony Fauci"
        capitalised = all(w[:1].isupper() or w in OFFICE_LINK_WORDS for w in words)
        if len(words) >= 2 and capitalised and OFFICES & {w.casefold() for w in words}:
            found.append((" ".join(words), person))
    return found


def _role_forms(role: str) -> set[str]:
    """The ways a question may say a role: "secretary of energy" is also "energy secretary"; "director of the
    national economic council" also "national economic council director" and "nec director"; "secretary of
    homeland security" also "dhs secretary" (the department's initials). Initials shorter than three letters
    are left out: too many words are two letters long."""
    forms = {role}
    inverted = re.fullmatch(r"(?P<office>.+?)\s+of\s+(?:the\s+)?(?P<what>.+)", role)
    if inverted:
        forms.add(f"{inverted['what']} {inverted['office']}")
        initials = "".join(w[0] for w in inverted["what"].split() if w not in OFFICE_LINK_WORDS | {"and", "&"})
        for short in (initials, "d" + initials):
            if len(short) >= 3:
                forms.add(f"{short} {inverted['office']}")
    return forms


def _aliases(name: str, values: tuple[str, ...]) -> set[str]:
    """Surnames a question may use for a person: 'Psaki' for 'Jen Psaki' and for the label 'MS. PSAKI'."""
    aliases = set()
    for value in (name, *values):
        words = [w.strip(".,").casefold() for w in value.split()]
        words = [w for w in words if w and w not in HONORIFICS]
        if words and len(words[-1]) >= 4 and words[-1] not in COMMON and words[-1] not in ROLE_WORDS:
            aliases.add(words[-1])
    return aliases


def _position(question: str, start: int) -> str:
    """How the question names the person whose name starts at `start`: "speaker", "addressed" (spoken
    to: "to Secretary Alejandro Mayorkas", "asked the press secretary") or "topic" ("about Fauci"),
    by the word before the name and its titles and first names."""
    words = question[:start].split()
    while words and (words[-1][:1].isupper() or words[-1].casefold().strip(".") in TITLE_WORDS):
        words.pop()
    before = words[-1].casefold().strip(",") if words else ""
    if before == "to" and len(words) >= 2 and words[-2].casefold() == "according":
        return "speaker"  # "according to Kerry": Kerry speaks
    return "addressed" if before in ADDRESSED_AFTER else "topic" if before in TOPIC_AFTER else "speaker"


def _asks_about_more(question: str, spans: list[tuple[int, int]], people: list[str]) -> bool:
    """Whether, besides the names, roles and dates at `spans`, the question holds a word that says what
    it is about: not a stop word, a verb of speaking, a title, a role, or a word of a named person's name."""
    not_topics = SPEECH_WORDS | ROLE_WORDS | HONORIFICS | set(content_words(" ".join(people)))
    return any(word not in not_topics for word in content_words(_without(question, spans)))


def _with_titles(question: str, span: tuple[int, int]) -> tuple[int, int]:
    """The span of a name widened to the first names and titles before it ("Dr. Anthony Fauci")."""
    start = span[0]
    for word in reversed(list(re.finditer(r"\S+", question[: span[0]]))):
        if word.group()[:1].isupper() and word.group().casefold().strip(".,") not in COMMON:
            start = word.start()
        else:
            break
    return start, span[1]


def _without(question: str, spans: list[tuple[int, int]]) -> str:
    """The question with the text at `spans` taken out."""
    rest, last = [], 0
    for start, end in sorted(spans):
        rest.append(question[last:start])
        last = max(last, end)
    rest.append(question[last:])
    return " ".join(" ".join(rest).split())
