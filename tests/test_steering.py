"""Steering: people and dates named in a question restrict the search, visibly, and never drop an answer silently."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.engine import QuoteEngine
from assistant.ingest import ingest
from assistant.steering import Steerer, asks_about_reporters

TRANSCRIPTS = Path(__file__).resolve().parent / "data" / "transcripts"
PEOPLE = {
    "Jen Psaki": ("Jen Psaki", "MS. PSAKI"),
    "DR. FAUCI": ("DR. FAUCI",),
    "Jake Sullivan": ("Jake Sullivan",),
    "a reporter": ("a reporter",),
    "SENIOR ADMINISTRATION OFFICIAL": ("SENIOR ADMINISTRATION OFFICIAL",),
    "THE PRESIDENT": ("THE PRESIDENT",),
    "Zhao Lijian": ("Zhao Lijian",),
}
#: A collection with a document every day of 2021.
DATES_2021 = [(dt.date(2021, 1, 1) + dt.timedelta(days=n)).isoformat() for n in range(365)]
TITLES = [
    "Press Briefing by Press Secretary Jen Psaki, March 4, 2021",
    "Press Gaggle by Jake Sullivan",
    "Foreign Ministry Spokesperson Zhao Lijian's Regular Press Conference on July 28, 2022",
]


@pytest.fixture
def steerer() -> Steerer:
    return Steerer(PEOPLE, TITLES, DATES_2021)


@pytest.mark.parametrize(
    ("question", "people", "date_from", "date_to", "named"),
    [
        ("What did Psaki say on 4 March about vaccines?", ("Jen Psaki", "MS. PSAKI"), "2021-03-04", "2021-03-04",
         ("Jen Psaki", "4 March 2021")),
        ("What did Fauci say about boosters in March 2021?", ("DR. FAUCI",), "2021-03-01", "2021-03-31",
         ("DR. FAUCI", "March 2021")),
        ("What did the press secretary say about masks?", ("Jen Psaki", "MS. PSAKI"), None, None, ("Jen Psaki",)),
        ("What did the reporter ask about Ukraine?", ("a reporter",), None, None, ("reporters",)),
        ("Sullivan on Afghanistan, August 17", ("Jake Sullivan",), "2021-08-17", "2021-08-17",
         ("Jake Sullivan", "17 August 2021")),
        ("What was said on 2021-11-03?", (), "2021-11-03", "2021-11-03", ("3 November 2021",)),
        ("What was announced in 2021?", (), "2021-01-01", "2021-12-31", ("2021",)),
        # a month without a year, in a collection of one year
        ("What did Psaki say about Afghanistan in August?", ("Jen Psaki", "MS. PSAKI"), "2021-08-01", "2021-08-31",
         ("Jen Psaki", "August 2021")),
        ("Sullivan in mid-March on China", ("Jake Sullivan",), "2021-03-01", "2021-03-31",
         ("Jake Sullivan", "March 2021")),
        ("What did the spokesperson say about Xinjiang?", ("Zhao Lijian",), None, None, ("Zhao Lijian",)),
        # "according to" names who speaks
        ("According to Jake Sullivan, what is the plan?", ("Jake Sullivan",), None, None, ("Jake Sullivan",)),
        # someone spoken to is not speaking: in a briefing, who speaks to an official is a reporter
        # ... in the documents where the person spoken to speaks
        ("How did Zeke frame his question to Psaki?", ("a reporter",), None, None,
         ("reporters", "in documents where Jen Psaki speaks")),
        ("What did a reporter ask Secretary Jake Sullivan about Kabul?", ("a reporter",), None, None,
         ("reporters", "in documents where Jake Sullivan speaks")),
        ("What did a reporter ask the press secretary on 4 March?", ("a reporter",), "2021-03-04", "2021-03-04",
         ("reporters", "in documents where Jen Psaki speaks", "4 March 2021")),
        ("What did Psaki tell reporters about masks?", ("Jen Psaki", "MS. PSAKI"), None, None, ("Jen Psaki",)),
        # someone talked about is what the question is about
        ("What did Psaki say about Sullivan?", ("Jen Psaki", "MS. PSAKI"), None, None, ("Jen Psaki",)),
        # reporters however the question names them
        ("Which reporter question raised the border?", ("a reporter",), None, None, ("reporters",)),
        ("reporter question Sullivan Kabul", ("Jake Sullivan", "a reporter"), None, None,
         ("Jake Sullivan", "reporters")),
    ],
)  # fmt: skip
def test_people_and_dates_named_in_a_question(steerer, question, people, date_from, date_to, named):
    steering = steerer.read(question)
    assert steering.people == people
    assert (steering.date_from, steering.date_to) == (date_from, date_to)
    assert steering.named == named


@pytest.mark.parametrize(
    "question",
    [
        "What does China say about terrorism?",
        "What did the official say?",
        "How many vaccines were given?",
        "What happened on 31 February?",
        "What did Jen say?",
        "What may the official announce?",
        # a role alone is nobody in particular, and a possessive names what the question is about
        "Was the job promoting the President?",
        "How did Sullivan's plan change?",
    ],
)
def test_questions_that_name_nobody_it_can_place_are_not_steered(steerer, question):
    assert not steerer.read(question).active


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("What did Psaki say on 4 March?", False),
        ("What did Jen Psaki say?", False),
        ("What did the journalist ask the spokesperson?", False),
        ("What did Psaki say on 4 March about vaccines?", True),
        ("What did Psaki say about Sullivan?", True),
        ("What did the reporter ask about Ukraine?", True),
        ("What was announced in 2021?", True),
    ],
)
def test_a_question_about_nothing_but_who_and_when_is_told_apart(steerer, question, topic):
    steering = steerer.read(question)
    assert steering.active
    assert steering.topic is topic


@pytest.mark.parametrize(
    ("question", "rest"),
    [
        ("What did Psaki say on 4 March about vaccines?", "What did say on about vaccines?"),
        ("How many were reunited, according to Dr. Fauci in March 2021?", "How many were reunited, according to in ?"),
        ("What did the press secretary say about masks?", "What did say about masks?"),
        # someone spoken to stays: it is what the question is about, not who speaks
        ("What did a reporter ask Jake Sullivan about Kabul?", "What did a reporter ask Jake Sullivan about Kabul?"),
    ],
)
def test_what_is_searched_within_the_restriction_leaves_out_the_names_and_dates_that_made_it(steerer, question, rest):
    assert steerer.read(question).rest == rest


@pytest.mark.parametrize(
    ("question", "about_reporters"),
    [
        ("Which reporter question raised the border?", True),
        ("What did the journalist ask the spokesperson?", True),
        ("Which outlet asked about the NGO letter?", True),
        ("How did Zeke frame his question to Psaki?", True),
        ("What criticism of HUD did a correspondent quote to Marcia Fudge?", True),
        ("How did withdrawn ATF nominee David Chipman describe his experience, as quoted to Psaki?", True),
        ("What was the Justice Department told to do about private prison contracts?", False),
        ("How many NGOs sent a co-signed letter to Bachelet?", False),
        ("According to China Daily, how many NGOs wrote?", False),  # named as a speaker: steering's part
    ],
)
def test_a_question_about_what_reporters_asked_is_told_apart(question, about_reporters):
    assert asks_about_reporters(question) is about_reporters


#: Titles as the 2021 briefings write them (../shared/data/whitehouse-briefings-2021), Markdown escapes undone.
OFFICE_TITLES = [
    "Press Briefing by Press Secretary Jen Psaki and National Security Advisor Jake Sullivan, June 7, 2021",
    "Press Briefing by Press Secretary Jen Psaki and Secretary of Homeland Security Alejandro Mayorkas, March 1, 2021",
    "Press Briefing by Press Secretary Jen Psaki, Secretary of Energy Jennifer Granholm, and Director of the "
    "National Economic Council Brian Deese, November 23, 2021",
    "Press Briefing by White House COVID-19 Response Team and Public Health Officials and Chief Medical Advisor "
    "Dr. Anthony Fauci",
    "Remarks by President Biden and Prime Minister Morrison of Australia Before Bilateral Meeting",
]
OFFICE_PEOPLE = {
    "Jen Psaki": ("Jen Psaki", "MS. PSAKI"),
    "Jake Sullivan": ("Jake Sullivan", "MR. SULLIVAN"),
    "Alejandro Mayorkas": ("Alejandro Mayorkas", "SECRETARY MAYORKAS"),
    "Jennifer Granholm": ("Jennifer Granholm", "SECRETARY GRANHOLM"),
    "Brian Deese": ("Brian Deese", "MR. DEESE"),
    "Anthony Fauci": ("Anthony Fauci", "DR. FAUCI"),
    "Joe Biden": ("THE PRESIDENT",),
}


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("Did the national security advisor view meeting Putin as a concession?", ("Jake Sullivan",)),
        ("What was the homeland security secretary's message to migrants?", ("Alejandro Mayorkas",)),
        ("What did the Secretary of Homeland Security say about the border?", ("Alejandro Mayorkas",)),
        ("What did the energy secretary say about gas prices?", ("Jennifer Granholm",)),
        ("What did the director of the National Economic Council say about inflation?", ("Brian Deese",)),
        ("What did the national economic council director say about inflation?", ("Brian Deese",)),
        # a department's initials: "the DHS secretary", "the NEC director"
        ("What was the DHS secretary's message to migrants?", ("Alejandro Mayorkas",)),
        ("What did the NEC director say about inflation?", ("Brian Deese",)),
        ("How long did the chief medical advisor expect the tests to take?", ("Anthony Fauci",)),
        ("What did a reporter ask the energy secretary?", ("reporters", "in documents where Jennifer Granholm speaks")),
        # a one-word office names nobody: "the President" is talked about in most briefings
        ("What did the President sign?", ()),
        ("What did the prime minister say?", ()),
    ],
)
def test_an_office_a_title_gives_a_person_steers_to_them(question, named):
    steerer = Steerer(OFFICE_PEOPLE, OFFICE_TITLES, DATES_2021)
    assert steerer.read(question).named == named


def test_initials_of_fewer_than_three_letters_name_no_office():
    steerer = Steerer(OFFICE_PEOPLE, OFFICE_TITLES, DATES_2021)
    assert "dhs secretary" in steerer.roles and "hs secretary" not in steerer.roles
    assert not any(role.startswith(("e ", "de ")) for role in steerer.roles)  # "Secretary of Energy": no "DE"


def test_an_office_two_people_hold_steers_to_neither():
    titles = ["Press Briefing by Press Secretary Jen Psaki", "Press Briefing by Press Secretary Karine Jean-Pierre"]
    people = {"Jen Psaki": ("MS. PSAKI",), "Karine Jean-Pierre": ("MS. JEAN-PIERRE",)}
    steerer = Steerer(people, titles, DATES_2021)
    assert not steerer.read("What did the press secretary say about masks?").active
    assert steerer.read("What did Psaki say about masks?").named == ("Jen Psaki",)


def test_reporters_are_the_questioners_the_index_names():
    steerer = Steerer(PEOPLE, TITLES, ["2022-07-28"], reporters=("China Daily", "a reporter"))
    assert steerer.read("What did the journalist ask the spokesperson?").people == ("China Daily", "a reporter")


def test_a_day_without_a_year_is_not_placed_in_a_collection_of_several_years():
    several_years = Steerer(PEOPLE, TITLES, ["2021-03-04", "2022-03-04"])
    assert not several_years.read("What was said on 4 March?").active
    assert not several_years.read("What was said in March?").active


def test_a_date_no_document_is_from_says_what_the_question_is_about_and_restricts_nothing():
    steerer = Steerer(PEOPLE, TITLES, ["2021-03-04", "2021-03-24", "2022-01-10"])
    steering = steerer.read("women jobs lost since February 2020 Psaki")
    assert steering.people == ("Jen Psaki", "MS. PSAKI") and steering.named == ("Jen Psaki",)
    assert (steering.date_from, steering.date_to, steering.unplaced) == (None, None, "February 2020")
    assert steering.rest == "women jobs lost since February 2020"
    assert not steerer.read("What was said in February 2021?").active  # the collection has nothing from then
    assert steerer.read("What was said in March 2021?").date_from == "2021-03-01"
    assert steerer.read("What was said on 24 March 2021?").date_from == "2021-03-24"
    assert steerer.read("What was said in 2022?").unplaced is None


def test_a_surname_two_people_share_steers_nowhere():
    steerer = Steerer({"Ann Jacobson": ("Ann Jacobson",), "Roberta Jacobson": ("Roberta Jacobson",)}, [], DATES_2021)
    assert not steerer.read("What did Jacobson say?").active


# --- in the engine (fake embedder, no reranker: the seed corpus) ----------------------------------------------


@pytest.fixture
def engine(settings: Settings, fake_embedder) -> QuoteEngine:
    ingest(settings, fake_embedder)
    return QuoteEngine.open(settings, fake_embedder)


def test_a_named_speaker_restricts_the_search_and_says_so(engine):
    answer = engine.ask("What did Zhao Lijian say about the assessment of Xinjiang?", top_k=5)
    assert answer.restricted_to == "Zhao Lijian"
    assert answer.quotes and all(q.speaker == "Zhao Lijian" for q in answer.quotes)
    unsteered = engine.ask("What did Zhao Lijian say about the assessment of Xinjiang?", top_k=5, steer=False)
    assert unsteered.restricted_to is None
    assert answer.to_json()["restricted_to"] == "Zhao Lijian"


def test_the_restricted_search_is_for_the_rest_of_the_question_and_the_fallback_for_all_of_it(engine, monkeypatch):
    searched = []
    search = engine.searcher.search
    monkeypatch.setattr(engine.searcher, "search", lambda q, **kw: searched.append(q.text) or search(q, **kw))
    engine.ask("What did Zhao Lijian say about the assessment of Xinjiang?", top_k=3)
    assert searched == ["What did say about the assessment of Xinjiang?"]
    searched.clear()
    answer = engine.ask("What did China Daily say about the note verbale in September 2023?", top_k=3)
    assert answer.restriction_note  # nothing within it: the whole collection, with the whole question
    assert searched == ["What did say about the note verbale in ?", answer.question]


def test_when_nothing_within_the_restriction_answers_everything_is_searched_and_said(engine):
    answer = engine.ask("What did China Daily say about the note verbale in September 2023?", top_k=3)
    assert answer.restricted_to is None
    assert answer.restriction_note.startswith("Nothing from China Daily, September 2023 answers this question")
    assert answer.quotes  # searched without the restriction


def test_when_nothing_anywhere_answers_the_closest_passages_shown_are_within_the_restriction(engine):
    # Outside the restriction the closest passages only share the question's names and dates (on the
    # briefings, bare "(December 2, 2021)" lines); within it they are at least what was asked for.
    answer = engine.ask("What did Zhao Lijian say about the price of tea in Kenya?", top_k=5)
    assert not answer.answered and answer.restricted_to is None
    assert answer.restriction_note == (
        "Nothing from Zhao Lijian answers this question, nor anything in the whole collection; "
        "the closest passages shown are from Zhao Lijian."
    )
    assert answer.quotes and all(q.speaker == "Zhao Lijian" and not q.is_match for q in answer.quotes)


def test_a_date_no_document_is_from_is_searched_for_as_words_and_said(engine):
    answer = engine.ask("What did Zhao Lijian say in March 2019 about the assessment of Xinjiang?", top_k=3)
    assert answer.restricted_to == "Zhao Lijian"  # the person still restricts; the date does not
    assert (
        answer.restriction_note
        == "No document in the collection is from March 2019, so that date was searched for as words."
    )
    assert answer.quotes and all(q.speaker == "Zhao Lijian" for q in answer.quotes)


def test_the_outlet_that_asks_at_a_press_conference_is_a_questioner(engine):
    # The transcript's metadata names its one speaker (Zhao Lijian); `China Daily:` asks him a question.
    assert engine.store.questioners() == ("China Daily",)
    assert "China Daily" in engine.people()  # still its own entry in the filters, and the citation's speaker


def test_what_the_journalist_asked_is_quoted_with_its_question_highlighted(engine):
    answer = engine.ask("What did the journalist ask the spokesperson?", top_k=3)
    assert answer.answered and answer.restricted_to == "reporters, in documents where Zhao Lijian speaks"
    top = answer.quotes[0]
    assert (top.speaker, top.matched_by) == ("China Daily", "named")
    assert top.highlight == "What is China’s comment?"
    assert top.text.startswith("China Daily: According to reports")  # the preamble stays in the quote


def test_a_question_about_a_topic_still_needs_an_answer_within_the_restriction(engine):
    answer = engine.ask("What did the journalist ask about the capital of Australia?", top_k=3)
    assert all(quote.matched_by != "named" for quote in answer.quotes)


def test_in_real_briefings_the_questioners_are_the_q_turns_not_the_guests(tmp_path, fake_embedder):
    # No metadata speaker: DR. FAUCI and MS. PSAKI answer, `Q` asks (tests/data/transcripts, real excerpts).
    corpus = tmp_path / "briefings"
    corpus.mkdir()
    for name in ("2021-01-21-psaki-fauci.md", "2021-04-08-psaki-granholm.md", "2021-07-28-gaggle-jean-pierre.md"):
        shutil.copy(TRANSCRIPTS / name, corpus)
    settings = Settings(
        corpus_dir=corpus, index_dir=tmp_path / "bindex", model="fake-bag-of-words", threshold=0.1, reranker="none"
    )
    ingest(settings, fake_embedder)
    engine = QuoteEngine.open(settings, fake_embedder)
    assert engine.store.questioners() == ("a reporter",)
    answer = engine.ask("Which reporter question to Dr. Fauci asked about Amazon?", top_k=5)
    # ... and a question to Dr. Fauci is one asked where he speaks: not in the other two briefings
    assert answer.restricted_to == "reporters, in documents where DR. FAUCI speaks"
    assert answer.quotes and all(quote.speaker_label == "Q" for quote in answer.quotes)
    assert {quote.doc_id for quote in answer.quotes} == {"2021-01-21-psaki-fauci"}
    assert len({quote.doc_id for quote in engine.ask("What did a reporter ask?", top_k=20).quotes}) == 3


def test_the_users_own_filters_win(engine):
    from assistant.search import Filters

    chosen = Filters(people=("China Daily",))
    answer = engine.ask("What did Zhao Lijian say?", top_k=3, filters=chosen)
    assert all(q.speaker == "China Daily" for q in answer.quotes)


@pytest.mark.parametrize(
    "question",
    ["涉疆问题的实质是什么？", "赵立坚3月4日说了什么？", "2021年3月4日记者问了什么？", "“强迫劳动”是真的吗", "新疆"],
)
def test_a_chinese_question_restricts_nothing(steerer: Steerer, question: str) -> None:
    """Chinese dates and names are not read yet; they must not be misread as English ones either."""
    steering = steerer.read(question)
    assert not steering.active and steering.unplaced is None
    assert steering.rest in (None, question) or steering.rest.strip() == question


def test_an_english_question_naming_a_chinese_topic_is_steered_as_before(steerer: Steerer) -> None:
    steering = steerer.read("What did Psaki say on 4 March about 新疆?")
    assert (steering.date_from, steering.date_to) == ("2021-03-04", "2021-03-04") and steering.people
