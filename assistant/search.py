"""Search: hybrid dense + keyword retrieval, fused, diversified, filtered, reranked, with abstention.

The question is embedded once; FAISS gives the nearest passages by cosine, the
keyword index (bm25s, assistant/keywords.py) the best by BM25; a weighted sum of the
two scores ranks them, and at most one passage per paragraph is kept. SQLite FTS5
finds exact phrases.

With a reranker (the shipped default, mode "reranked"), the best RERANK_DEPTH of those
candidates are read sentence by sentence together with the question by our own model
(assistant/reranker.py): a passage's model score is its best sentence's, which becomes
the highlight; passages are ranked by that logit plus the model's `hybrid_weight` times the
hybrid score (both fitted on held-out training data). A passage is a *match* when its calibrated
probability reaches the model's threshold, or when its cosine reaches the hybrid threshold: on
real collections the model's probability alone declined most answerable questions. Without a
model (mode "hybrid"), a match is a cosine above a threshold calibrated on labelled questions
(see `calibrate_threshold`). A quoted phrase is always a match.

The model reads English only: a question written mostly in CJK letters (cjk.is_mostly_cjk) is
ranked by the hybrid order whatever the mode, and is a match by its cosine reaching the
searcher's `cjk_threshold` (CJK_THRESHOLD), so that it is never declined for want of a model
that can read it.
"""

from __future__ import annotations

import re
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import faiss
import numpy as np

from assistant.cjk import is_mostly_cjk
from assistant.config import DEFAULT_THRESHOLD
from assistant.embedding import Embedder
from assistant.errors import QuestionError
from assistant.keywords import STOPWORDS, WORD, content_words
from assistant.passages import Passage, Span, is_heading, same_person
from assistant.store import Restriction, Store

MAX_QUESTION_CHARS = 2000
DENSE_WEIGHT = 0.7  # on the labelled seed questions 0.4-0.8 gave top-1 0.57-0.61; 0.7 was best (docs/benchmarks.md)
CANDIDATES = 50
# A question most of whose content words the corpus never uses is about something else, even
# when its embedding lands near an on-topic passage ("How many Uyghurs live in Xinjiang?").
UNKNOWN_WORDS_SHARE = 0.6
CONFIDENT_RELEVANCE = 0.6  # all-MiniLM-L6-v2's; the engine passes its model's (config.DenseScale)
#: In a collection this large, a question word it never uses ("sourdough", "Wimbledon" in a year of press
#: briefings) says the question is about something it does not cover: 3 of 104 answerable briefing questions
#: hold one (24,813 passages), 7 of 19 unanswerable ones. In small collections most answerable questions do
#: (38 of 49 seed questions, 16 passages; 26 of 48 UN questions, 457 passages), so there it means nothing.
#: Such a question needs the model's collection threshold or a cosine of CONFIDENT_RELEVANCE to be answered.
LARGE_COLLECTION = 10_000
MODES = ("reranked", "hybrid", "dense", "keyword")
#: Hybrid candidates (one per paragraph) the model reads, sentence by sentence.
RERANK_DEPTH = 20
#: Logits taken off a reporter's turn when the question does not ask what reporters asked. Any value from
#: 1 to 100 gave the same order on the briefings and seed development sets (1 more answer first on each).
REPORTER_PENALTY = 3.0

# Runs keyword searches while questions are embedded; one pool for every Searcher, so an engine
# replaced after an upload leaves no thread behind.
_KEYWORD_SEARCH = ThreadPoolExecutor(max_workers=2, thread_name_prefix="keyword-search")
#: "What did the journalist ask?": a question about what was asked.
ASKING = re.compile(r"\b(?:ask|asks|asked|asking)\b", re.IGNORECASE)
#: A sentence opening with a word that points back ("They are about countering terrorism.") continues the one
#: before it. The model reads each sentence alone and cannot tell what "They" is, so when it scores such a
#: continuation of the best sentence within CONTINUATION_MARGIN logits of it, the highlight takes in both
#: (seed set: highlight 0.776 -> 0.837 on the development candidates; unchanged on the held-out training data).
CONTINUES = re.compile(r"\W*(?:They|It|This|These|Those|He|She|Such|That|Their|Its|His|Her)\b")
CONTINUATION_MARGIN = 2.0
PHRASE = re.compile(r'"([^"]+)"|“([^”]+)”|「([^」]+)」')
#: The cosine from which a passage answers a question written mostly in CJK letters, which the English
#: question–sentence model cannot read. Not yet fitted: the English collections' cosine threshold until a
#: multilingual embedder and labelled Chinese questions give one.
CJK_THRESHOLD = DEFAULT_THRESHOLD
#: Openers that carry on from the question before ("And what did the NGOs ask for?", "What about Bachelet?").
#: "Why" is not one: "Why did President Biden decide to withdraw from Afghanistan?" has its own subject; "Why?"
#: or "Why did he do that?" follow up by their ellipsis or pronoun.
FOLLOW_UP_OPENERS = ("and ", "but ", "also ", "what about", "how about", "so ", "then ")
#: A follow-up is short: at most this many content words.
FOLLOW_UP_MAX_WORDS = 6
PRONOUNS = frozenset(
    ["they", "them", "their", "it", "its", "this", "that", "these", "those", "he", "she", "his", "her", "him"]
)
#: First words of a question or a request: input that opens with none of them and has no question mark is a
#: statement (is_statement).
ASKING_OPENERS = frozenset(
    [
        "what",
        "who",
        "whom",
        "whose",
        "which",
        "when",
        "where",
        "why",
        "how",
        "is",
        "are",
        "was",
        "were",
        "am",
        "do",
        "does",
        "did",
        "can",
        "could",
        "will",
        "would",
        "should",
        "shall",
        "has",
        "have",
        "had",
        "may",
        "might",
        "must",
        "tell",
        "show",
        "find",
        "list",
        "give",
        "explain",
        "describe",
        "summarise",
        "summarize",
        "name",
        "quote",
        "compare",
        "according",
        "anything",
        "please",
    ]
)
#: A statement shorter than this many words is a keyword search ("Xinjiang terrorism"), not a claim.
STATEMENT_MIN_WORDS = 5
#: A statement is reranked with the hybrid score weighing this many times more beside the model's logit: the model
#: was trained on questions. Claims set (development, 52 answerable; docs/readers.md): top-1 / top-3 0.788 / 0.942
#: at 1, 0.827 / 0.942 at 2, 0.808 / 0.923 at 4 and 8; hybrid without the model 0.827 / 0.904.
STATEMENT_WEIGHT = 2.0


@dataclass(frozen=True)
class Filters:
    """Restrict a search to some documents, people (author or speaker), or a date range (ISO, inclusive).

    `spoken_in` (speaker values) keeps the documents in which one of them has a turn: a reporter's
    question to Sullivan is in a briefing where Sullivan speaks.
    """

    doc_ids: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None
    spoken_in: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.doc_ids or self.people or self.date_from or self.date_to or self.spoken_in)


@dataclass(frozen=True)
class Question:
    """A validated question: the text to search for and any "quoted phrases" it must contain."""

    text: str
    phrases: tuple[str, ...] = ()

    @property
    def terms(self) -> list[str]:
        """Content words, case-folded, without stop words, in order, once each."""
        return list(dict.fromkeys(content_words(self.text)))


@dataclass(frozen=True)
class Hit:
    """A retrieved passage: its rank score, its relevance, and whether it matches.

    `relevance` is the reranker's calibrated probability that the passage answers (mode
    "reranked"), else the passage's cosine to the question. `answer_span` is the sentence the
    reranker found answers best, in document offsets (None without a reranker). `matched_by` says
    why a match is one: "model" (the reranker's probability reached its threshold), "meaning" (the
    cosine reached the collection's threshold), "phrase" (it holds the question's quoted phrase) or
    "named" (the question asks only what the people it names said, and they said this: `by_named`);
    None when it is not a match.
    """

    passage_id: int
    passage: Passage
    score: float
    relevance: float
    matched_by: str | None
    dense_rank: int | None = None
    keyword_rank: int | None = None
    answer_span: Span | None = None

    @property
    def is_match(self) -> bool:
        return self.matched_by is not None


@dataclass(frozen=True)
class SearchResult:
    """Hits in rank order, whether any is a match, and a reason when none is."""

    question: Question
    hits: list[Hit] = field(default_factory=list)
    answered: bool = False
    reason: str | None = None
    mode: str = "hybrid"


def parse_question(question: str) -> Question:
    """Validate and normalise a question.

    Control characters become spaces; "double-quoted" phrases are pulled out as
    exact-phrase constraints. Raises QuestionError when the question is empty or
    longer than MAX_QUESTION_CHARS.
    """
    if not isinstance(question, str):
        raise QuestionError("The question must be text.")
    cleaned = "".join(" " if unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") else ch for ch in question)
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        raise QuestionError("The question is empty. Type a question, for example: What was said about terrorism?")
    if len(cleaned) > MAX_QUESTION_CHARS:
        raise QuestionError(
            f"The question is {len(cleaned):,} characters long; the limit is {MAX_QUESTION_CHARS:,}. "
            "Ask about one thing at a time."
        )
    phrases = tuple(p.strip() for groups in PHRASE.findall(cleaned) for p in groups if p.strip())
    return Question(cleaned, tuple(p for p in phrases if WORD.search(p)))


def is_follow_up(question: str) -> bool:
    """Whether a question needs the one before it to be understood: it opens by carrying on ("And ...",
    "What about ..."), points back with a pronoun ("What did they ask for?"), or leaves its subject out
    ("Why?", "When?"); and it is short. A question with its own subject is not one, however it opens."""
    lowered = question.casefold().strip()
    words = WORD.findall(lowered)
    content = [w for w in words if w not in STOPWORDS]
    if len(content) > FOLLOW_UP_MAX_WORDS:
        return False
    return lowered.startswith(FOLLOW_UP_OPENERS) or bool(PRONOUNS & set(words)) or not content


def is_statement(text: str) -> bool:
    """Whether the input states something rather than asks: a claim or a half-remembered quotation typed
    into the chat ("Psaki said the vaccine mandate covers federal contractors"). It has no question mark,
    does not open with a question or request word (ASKING_OPENERS), and has STATEMENT_MIN_WORDS words or
    more. The question–sentence model was trained on questions, so a statement is ranked without it."""
    if "?" in text or "？" in text:
        return False
    words = WORD.findall(text.casefold())
    return len(words) >= STATEMENT_MIN_WORDS and words[0] not in ASKING_OPENERS


def is_quotation(phrase: str) -> bool:
    """Whether a quoted phrase is a quotation (a sentence or most of one: STATEMENT_MIN_WORDS words or more)
    rather than a term to find exactly. A quotation no passage holds word for word is searched as words."""
    return len(WORD.findall(phrase)) >= STATEMENT_MIN_WORDS


def contextualize(question: str, previous: str | None) -> str:
    """The text to search for a question: a follow-up (is_follow_up) carries the previous question."""
    if previous and is_follow_up(question):
        return f"{previous} {question}"
    return question


def _matched_by(phrase: bool, model: bool, meaning: bool) -> str | None:
    """Why a hit is a match (Hit.matched_by), the strongest reason first; None when it is not one."""
    return "phrase" if phrase else "model" if model else "meaning" if meaning else None


def by_named(result: SearchResult) -> SearchResult:
    """A search restricted to the people and dates a question names, every hit an answer.

    For a question about nothing but who and when ("What did Psaki say on 4 March?", "What did the
    journalist ask?"): whatever they said then answers it, even where the model sees no answer. When
    it asks what was asked, each hit's highlight is the question in it, not the preamble before it.
    """
    asked = ASKING.search(result.question.text) is not None
    hits = [
        replace(
            hit,
            matched_by=hit.matched_by or "named",
            answer_span=_the_question_asked(hit.passage, hit.answer_span) if asked else hit.answer_span,
        )
        for hit in result.hits
    ]
    return replace(result, hits=hits, answered=bool(hits), reason=None if hits else result.reason)


def _the_question_asked(passage: Passage, best: Span | None) -> Span | None:
    """The passage's question (a sentence ending in "?") at or after `best`, else its last one; else `best`."""
    asking = [
        span
        for span in passage.sentences
        if passage.text[span.start - passage.start : span.end - passage.start].rstrip(" \n\xa0”’\"')").endswith("?")
    ]
    if not asking or best in asking:
        return best
    start = best.start if best is not None else passage.start
    return next((span for span in asking if span.start >= start), asking[-1])


def headings_last(hits: list[Hit]) -> list[Hit]:
    """Hits with headings (passages.is_heading) that share no word with the question after the rest, not matches.

    For questions ranked by the cosine alone (mostly-CJK questions, which the model cannot read): there the
    seed note's Chinese letterhead came first for every Chinese question (issue 19). A heading the question
    shares words with (a search for the letterhead itself) keeps its place.
    """

    def moved(hit: Hit) -> bool:
        return hit.keyword_rank is None and hit.matched_by != "phrase" and is_heading(hit.passage.text)

    return [h for h in hits if not moved(h)] + [replace(h, matched_by=None) for h in hits if moved(h)]


def meaning_only_for_the_best(hits: list[Hit]) -> list[Hit]:
    """Reranked hits with at most one match by its cosine alone ("meaning"), and none beside a model's match.

    The cosine is a coarse signal: counting every passage close in meaning as an answer padded answers with
    passages the model gives 3-17% (issue 22). It stays the way a question the model doubts is answered:
    where no passage is the model's (or a phrase's) match, the best-ranked passage close in meaning is the one
    answer; the rest are not matches. The answered / declined decision is unchanged.
    """
    kept = not any(hit.matched_by in ("model", "phrase") for hit in hits)
    out = []
    for hit in hits:
        if hit.matched_by == "meaning":
            if not kept:
                hit = replace(hit, matched_by=None)
            kept = False
        out.append(hit)
    return out


def _confident_only(hit: Hit, confident_relevance: float = CONFIDENT_RELEVANCE) -> Hit:
    """The hit, a match only if its cosine reaches `confident_relevance` (most question words unknown)."""
    return replace(hit, matched_by=_matched_by(False, False, hit.relevance >= confident_relevance))


def best_sentences(reranker, question: str, passages: list[Passage]) -> tuple[np.ndarray, list[Span]]:
    """Each passage's best sentence by the question–sentence model: its logit and its span (taking in the
    next sentence when that continues it: CONTINUES).

    Every sentence of every passage (a passage without sentences counts as one) is scored in one call,
    so the model batches them together; each goes with the sentence before it in its passage, which a
    model trained with context reads. Used by the reranked search and by training/fit_threshold.py.
    """
    owners, spans, texts, previous = [], [], [], []
    for number, passage in enumerate(passages):
        for place, span in enumerate(passage.sentences or (Span(passage.start, passage.end),)):
            owners.append(number)
            spans.append(span)
            previous.append(texts[-1] if place else "")
            texts.append(passage.text[span.start - passage.start : span.end - passage.start])
    logits = reranker.score(question, texts, previous)
    best: dict[int, int] = {}
    for position, owner in enumerate(owners):
        if owner not in best or logits[position] > logits[best[owner]]:
            best[owner] = position
    chosen = [best[number] for number in range(len(passages))]
    answer_spans = []
    for i in chosen:
        following = i + 1
        continued = (
            following < len(owners)
            and owners[following] == owners[i]
            and CONTINUES.match(texts[following]) is not None
            and logits[following] >= logits[i] - CONTINUATION_MARGIN
        )
        answer_spans.append(Span(spans[i].start, spans[following].end) if continued else spans[i])
    return np.array([logits[i] for i in chosen], dtype=np.float32), answer_spans


class Searcher:
    """Hybrid retrieval over one passage store with one Embedder."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        threshold: float,
        reranker=None,
        confident_relevance: float = CONFIDENT_RELEVANCE,
        cjk_threshold: float = CJK_THRESHOLD,
        cross_threshold: float | None = None,
        dense_weight: float = DENSE_WEIGHT,
        hybrid_weight: float | None = None,
    ) -> None:
        """`threshold`, `confident_relevance` and `cjk_threshold`: cosines on the embedder's scale (DenseScale).
        A mostly-CJK question's passage is a match from `cjk_threshold` when it is mostly CJK too, else from
        `cross_threshold` (None: `cjk_threshold`): across languages a multilingual model's cosines run lower.

        `dense_weight`: the cosine's share of the hybrid score (the rest is BM25's). `hybrid_weight`: how much the
        hybrid score adds to the model's logit in the reranked order (None: the reranker's own, reranker.json).
        Both depend on how the embedding model spreads its cosines (config.DenseScale).
        """
        self.store = store
        self.embedder = embedder
        self.threshold = threshold
        self.confident_relevance = confident_relevance
        self.dense_weight = dense_weight
        self.hybrid_weight = hybrid_weight
        self.statement_weight = STATEMENT_WEIGHT
        self.reranker = reranker
        self.cjk_threshold = cjk_threshold
        self.cross_threshold = cjk_threshold if cross_threshold is None else cross_threshold
        # One question at a time: FAISS's OpenMP threads cost more than they save and contend with
        # torch's (flat search over 20,000 passages: 2.1 ms with 2 threads, 0.8 ms with 1; docs/benchmarks.md).
        faiss.omp_set_num_threads(1)

    def search(
        self,
        question: Question,
        top_k: int = 5,
        filters: Filters | None = None,
        mode: str | None = None,
        reporters: tuple[str, ...] = (),
    ) -> SearchResult:
        """The top_k passages for a question, best first, with match flags.

        mode None is "reranked" when a reranker is loaded, else "hybrid"; a question mostly in CJK letters is
        searched "hybrid" instead of "reranked" (the model cannot read it), with the cosine threshold
        `cjk_threshold`. `reporters` are the speaker
        values of reporters' turns when the question does not ask what a reporter asked: in mode
        "reranked" their turns rank below the officials' (REPORTER_PENALTY): a reporter's account is not the
        source's statement, though it may still answer, cited to the reporter. Raises ValueError
        for a top_k outside 1..100, an unknown mode, or "reranked" without a reranker.
        """
        if not 1 <= top_k <= 100:
            raise ValueError("top_k must be between 1 and 100")
        mode = mode or self.default_mode
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if mode == "reranked" and self.reranker is None:
            raise ValueError("mode 'reranked' needs a reranker (ASSISTANT_RERANKER is 'none')")
        if mode == "reranked" and is_mostly_cjk(question.text):
            mode = "hybrid"
        allowed = self._allowed_ids(filters or Filters(), question.phrases)
        if allowed is not None and len(allowed) == 0:
            return SearchResult(question, reason=_nothing_allowed(question, filters), mode=mode)
        depth = max(CANDIDATES, top_k * 4)
        # The keyword search runs while the model embeds the question: ONNX Runtime and numpy
        # (bm25s) both release the GIL, so the two mostly overlap.
        keyword_job = _KEYWORD_SEARCH.submit(self._keyword, question, depth, allowed) if mode != "dense" else None
        query_vector = self.embedder.encode_queries([question.text])[0]
        dense = self._dense(query_vector, depth, allowed) if mode != "keyword" else []
        keyword = keyword_job.result() if keyword_job else []
        fused, cosines = self._fuse(
            query_vector, dense if mode != "keyword" else [], keyword, "hybrid" if mode == "reranked" else mode
        )
        if not fused:
            return SearchResult(question, reason="No passage shares a word with the question.", mode=mode)
        if mode == "reranked":
            candidates = self._select(fused, cosines, query_vector, max(RERANK_DEPTH, top_k), dense, keyword, False)
            unknown = self._unknown_words(question)
            strict = self._names_the_unknown(question, unknown)
            confident = strict or self._mostly_unknown_words(question, unknown)
            cosine_floor = self.confident_relevance if confident else self.threshold
            model_floor = self.reranker.strict_threshold if strict else self.reranker.threshold
            phrase_matched = bool(question.phrases)
            reporters = frozenset(reporters)
            weight = self._hybrid_weight * (self.statement_weight if is_statement(question.text) else 1.0)
            hits = self._rerank(question, candidates, phrase_matched, cosine_floor, reporters, model_floor, weight)
            hits = meaning_only_for_the_best(hits[:top_k])
        else:
            cjk = is_mostly_cjk(question.text)
            threshold = self.cjk_threshold if cjk else self.threshold
            depth = 2 * top_k if cjk else top_k  # room for the headings that headings_last moves down
            cross = self.cross_threshold if cjk else None
            hits = self._select(
                fused, cosines, query_vector, depth, dense, keyword, bool(question.phrases), threshold, cross
            )
            if cjk:  # its words are unknown to an English corpus by design; the CJK threshold is fitted for that
                hits = headings_last(hits)[:top_k]
            elif not question.phrases and self._mostly_unknown_words(question):
                hits = [_confident_only(h, self.confident_relevance) for h in hits]
        answered = any(hit.is_match for hit in hits)  # hits stay in fused order: it ranks better than cosine
        reason = None if answered else "No passage in the corpus answers this question."
        return SearchResult(question, hits, answered, reason, mode)

    @property
    def _hybrid_weight(self) -> float:
        """The hybrid score's weight beside the model's logit for a question: the searcher's, else the model's."""
        return self.reranker.settings.hybrid_weight if self.hybrid_weight is None else self.hybrid_weight

    @property
    def default_mode(self) -> str:
        return "reranked" if self.reranker is not None else "hybrid"

    def _rerank(
        self,
        question: Question,
        candidates: list[Hit],
        phrase_matched: bool,
        cosine_floor: float,
        reporters: frozenset[str] = frozenset(),
        model_floor: float | None = None,
        hybrid_weight: float | None = None,
    ) -> list[Hit]:
        """Candidates re-ordered by the model: each passage scored by its best sentence, read with the question.

        A passage is a match when the model's probability reaches its threshold, or, as in hybrid mode, its
        cosine reaches `cosine_floor`: on real collections the model alone declined most answerable
        questions (README, "The question–passage model"), so either signal may answer. A turn of one of
        `reporters` ranks REPORTER_PENALTY logits lower. `model_floor` is the probability that makes a match
        (default: the model's threshold). `hybrid_weight`: the hybrid score's weight beside the logit (default
        `_hybrid_weight`).
        """
        if not candidates:
            return []
        model_floor = self.reranker.threshold if model_floor is None else model_floor
        hybrid_weight = self._hybrid_weight if hybrid_weight is None else hybrid_weight
        logits, spans = best_sentences(self.reranker, question.text, [hit.passage for hit in candidates])
        probabilities = self.reranker.probability(logits)
        reranked = []
        for number, hit in enumerate(candidates):
            logit = float(logits[number])
            probability = float(probabilities[number])
            matched_by = _matched_by(phrase_matched, probability >= model_floor, hit.relevance >= cosine_floor)
            if hit.passage.speaker in reporters:
                logit -= REPORTER_PENALTY
            reranked.append(
                replace(
                    hit,
                    score=logit + hybrid_weight * hit.score,
                    relevance=probability,
                    answer_span=spans[number],
                    matched_by=matched_by,
                )
            )
        return sorted(reranked, key=lambda h: -h.score)

    def _dense(self, query_vector: np.ndarray, depth: int, allowed: np.ndarray | None) -> list[int]:
        return self.store.dense(query_vector, depth, allowed)

    def _keyword(self, question: Question, depth: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        """Passage ids and BM25 scores (higher is better) for the question's content words."""
        return self.store.keyword(question.terms, depth, allowed)

    def _select(
        self, fused, cosines, query_vector, top_k, dense, keyword, phrase_matched, threshold=None, cross_threshold=None
    ) -> list[Hit]:
        """The best fused candidates, at most one per paragraph (so no overlapping windows of one place); a
        match when its cosine reaches `threshold` (default: the searcher's), or `cross_threshold` when that is
        given and the passage is not mostly CJK. `cosines`: those _fuse computed, by passage id (others are
        computed here)."""
        threshold = self.threshold if threshold is None else threshold
        passages: dict[int, Passage] = {}
        batch = max(2 * top_k, 10)  # fetched in batches: most asks need only the first
        dense_rank = {pid: rank for rank, pid in enumerate(dense, start=1)}
        keyword_rank = {pid: rank for rank, (pid, _) in enumerate(keyword, start=1)}
        chosen, places = [], set()
        for position, (pid, score) in enumerate(fused):
            if pid not in passages:
                ids = [p for p, _ in fused[position : position + batch]]
                passages.update(self.store.passages(ids))
                missing = [p for p in ids if p not in cosines and p in passages]
                if missing:
                    cosines = {**cosines, **dict(zip(missing, self.store.vectors(missing) @ query_vector))}
            if pid not in passages:  # removed since it was found: a shared store's concurrent ingest
                continue
            place = (passages[pid].doc_id, passages[pid].paragraph)
            if place in places:
                continue
            places.add(place)
            relevance = float(cosines[pid])  # cosine: vectors are unit length
            floor = threshold
            if cross_threshold is not None and not is_mostly_cjk(passages[pid].text):
                floor = cross_threshold
            chosen.append(
                Hit(
                    passage_id=pid,
                    passage=passages[pid],
                    score=score,
                    relevance=relevance,
                    matched_by=_matched_by(phrase_matched, False, relevance >= floor),
                    dense_rank=dense_rank.get(pid),
                    keyword_rank=keyword_rank.get(pid),
                )
            )
            if len(chosen) == top_k:
                break
        return chosen

    def _fuse(self, query_vector, dense: list[int], keyword: list[tuple[int, float]], mode: str):
        """Candidates best first by dense_weight * cosine + (1 - dense_weight) * BM25 / best BM25, and the
        cosine of each candidate by id.

        A convex combination of scores beat reciprocal rank fusion on the labelled
        questions (docs/benchmarks.md); the single-signal modes are the baselines.
        """
        if mode == "keyword":
            return [(pid, score) for pid, score in keyword], {}
        candidates = list(dict.fromkeys([*dense, *(pid for pid, _ in keyword)]))
        cosine = self.store.vectors(candidates) @ query_vector if candidates else np.zeros(0, dtype=np.float32)
        cosines = dict(zip(candidates, cosine.tolist()))
        if mode == "dense":
            return [(pid, float(c)) for pid, c in zip(candidates, cosine)], cosines
        best_bm25 = max((score for _, score in keyword), default=0.0)
        lexical = dict(keyword)
        fused = [
            (
                pid,
                self.dense_weight * float(c)
                + (1 - self.dense_weight) * (lexical.get(pid, 0.0) / best_bm25 if best_bm25 > 0 else 0.0),
            )
            for pid, c in zip(candidates, cosine)
        ]
        return sorted(fused, key=lambda item: -item[1]), cosines

    def _names_the_unknown(self, question: Question, unknown: int | None = None) -> bool:
        """True when a large collection (LARGE_COLLECTION) never uses one of the question's content words
        (`unknown` of them, counted by `_unknown_words` when not given) and the question quotes no phrase."""
        if question.phrases or self.store.size < LARGE_COLLECTION:
            return False
        return (self._unknown_words(question) if unknown is None else unknown) > 0

    def _mostly_unknown_words(self, question: Question, unknown: int | None = None) -> bool:
        """True when at least UNKNOWN_WORDS_SHARE of the question's content words occur nowhere in the corpus."""
        terms = question.terms
        if not terms:
            return False
        unknown = self._unknown_words(question) if unknown is None else unknown
        return unknown / len(terms) >= UNKNOWN_WORDS_SHARE

    def _unknown_words(self, question: Question) -> int:
        """How many of the question's content words occur nowhere in the corpus."""
        known = self.store.known(question.terms)
        return sum(term not in known for term in question.terms)

    def _allowed_ids(self, filters: Filters, phrases: tuple[str, ...]) -> np.ndarray | None:
        """Passage ids the filters and phrases allow; None when nothing restricts the search."""
        containing = None
        for phrase in phrases:
            ids = self._phrase_ids(phrase)
            containing = ids if containing is None else np.intersect1d(containing, ids)
        return self._filtered_ids(filters, containing) if filters.active else containing

    def _filtered_ids(self, filters: Filters, within: np.ndarray | None = None) -> np.ndarray:
        people = filters.people
        restriction = Restriction(
            doc_ids=filters.doc_ids,
            authors=people,
            # one person may be written several ways ('Jen Psaki', 'MS. PSAKI')
            speakers=tuple(sorted(same_person(self.store.people(), people))) if people else (),
            spoken_in=filters.spoken_in,
            date_from=filters.date_from,
            date_to=filters.date_to,
        )
        return self.store.restricted(restriction, within)

    def _phrase_ids(self, phrase: str) -> np.ndarray:
        """Passages containing the phrase exactly, ignoring case (the store's full-text index finds candidates,
        Python checks)."""
        candidates = self.store.phrase(phrase)
        needle = " ".join(phrase.casefold().split())
        texts = self.store.passages(candidates)
        ids = [pid for pid, passage in texts.items() if needle in " ".join(passage.text.casefold().split())]
        return np.array(sorted(ids), dtype=np.int64)


def calibrate_threshold(answerable: list[float], unanswerable: list[float]) -> float:
    """The cosine threshold that best separates labelled answerable from unanswerable questions.

    Takes each question's best passage relevance; returns the midpoint between
    neighbouring scores that maximises balanced accuracy (ties: the widest gap).
    """
    if not answerable or not unanswerable:
        raise ValueError("calibration needs both answerable and unanswerable questions")
    points = sorted(set(answerable) | set(unanswerable))
    candidates = [points[0] - 1e-6] + [(a + b) / 2 for a, b in zip(points, points[1:])] + [points[-1] + 1e-6]

    def quality(threshold: float) -> tuple[float, float]:
        recall = sum(s >= threshold for s in answerable) / len(answerable)
        rejection = sum(s < threshold for s in unanswerable) / len(unanswerable)
        gap = min((abs(s - threshold) for s in points), default=0.0)
        return (recall + rejection) / 2, gap

    return round(max(candidates, key=quality), 4)


def _nothing_allowed(question: Question, filters: Filters | None) -> str:
    if question.phrases:
        quoted = ", ".join(f'"{p}"' for p in question.phrases)
        scope = " in the selected documents" if filters and filters.active else ""
        return f"No passage contains the exact phrase {quoted}{scope}."
    return "No document matches the filters."
