"""The PostgreSQL store (store.Store): one database that many app replicas read, with pgvector and pg_trgm.

Chosen with `ASSISTANT_STORE=postgresql://…` (or `--store` on the CLI); the embedded files stay the
default. The writer is `pgingest.ingest_postgres`; this module is the reader and the schema both share.

Tables (in the schema SCHEMA_NAME):
- `documents`, `passages`: what citations need, as in the embedded SQLite store; each passage has its
  unit vector in a `vector` column with an HNSW index (inner product, `vector_ip_ops`) and its text
  in a trigram index for exact phrases.
- `postings` (term, passage, tf, text length) for the text field, and `context_postings` for the
  context field (who and what a passage comes from: keywords.py). Every passage of one speaker in one
  document has the same context, so its postings are kept once per such group (`passages.context_group`,
  the id of the group's first passage), with the group's size: a name in a briefing's title has a few
  thousand rows, not one per passage. `terms` (document frequencies, counted in passages) and `fields`
  (passage count and total length per field): BM25 computed in SQL with the same stems, k1, b and
  context weight as the embedded bm25s index (keywords.py), not Postgres' ts_rank.
- `meta`: the format, the embedding model and dimension, the corpus, and the generation number an
  ingest increments in the same transaction that writes its rows, so a reader sees the whole of an
  ingest or none of it, and a replica knows within one `is_current()` that there is a newer one.

HNSW parameters: m = 16 and ef_construction = 64 are pgvector's defaults, a build about 2× faster than
the embedded FAISS index's M = 32 / 80. ef_search is what buys recall: on the 64,649 real e5 vectors of the
2021 briefings, recall@20 against exact search for the 123 labelled questions was 0.921 at ef_search 100
(2.4 ms), 0.955 at 200, 0.979 at 400 (5.3 ms) and 0.988 at 800 (9.8 ms), so EF_SEARCH is 800 (docs/ef_sweep.md).
ef_search is set to max(EF_SEARCH, depth) in every transaction (`SET LOCAL`), so a connection pool cannot
lose it. A filtered
search over at most EXACT_BELOW allowed passages is exact; over more, it uses pgvector's iterative index
scan (strict order), so a filter never returns fewer than k results while k passages are allowed.
Like the embedded index, a store of at most Settings.approximate_above passages (50,000) is searched
exactly (meta `index_kind` "flat"); the HNSW index serves larger ones.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from assistant.errors import AssistantError, IndexMissingError, UnknownDocumentError
from assistant.keywords import BM25_B, BM25_K1, CONTEXT_WEIGHT, phrase_terms, stem
from assistant.passages import REPORTER, Passage, people_from_speakers
from assistant.store import (
    DOCUMENT_COLUMNS,
    PASSAGE_COLUMNS,
    DocumentInfo,
    Restriction,
    document_from_row,
    passage_from_row,
)

SCHEMA_NAME = "quote_assistant"
#: Bumped when the tables change; a store of another format is refused until it is rebuilt.
PG_FORMAT = 2  # 2: context postings kept per speaker and document
HNSW_M, HNSW_EF_CONSTRUCTION, EF_SEARCH = 16, 64, 800
#: A filtered dense search over at most this many allowed passages reads them all (exact, a few ms).
EXACT_BELOW = 20_000
#: Field numbers in `postings`, `terms` and `fields`, with their BM25 weights (keywords.FIELDS).
TEXT_FIELD, CONTEXT_FIELD = 0, 1
POOL_SIZE = 4


class StoreUnavailableError(AssistantError):
    """The database cannot be reached now; the next query tries again."""


class StoreMismatchError(AssistantError):
    """The database holds a store made with another embedding model, dimension or format."""


@dataclass(frozen=True)
class Predicate:
    """What a restriction allows, kept as a condition on passages' own columns instead of a list of ids, for
    a restriction that allows more than EXACT_BELOW passages (PostgresStore.restricted).

    A passage passes when its document is among `doc_ids` (None: any document) and, when `speakers` is not
    None, its document is among `author_docs` or its speaker among `speakers`. It depends only on a passage's
    document and speaker, so a context group (one speaker in one document) passes or fails as a whole.
    `len()` is more than EXACT_BELOW: what the search needs to know of a restriction's size.
    """

    doc_ids: tuple[str, ...] | None
    author_docs: tuple[str, ...]
    speakers: tuple[str, ...] | None

    def __len__(self) -> int:
        return EXACT_BELOW + 1

    def sql(self, alias: str) -> tuple[str, dict]:
        """The condition on the passages table as `alias`, and its named parameters."""
        clauses, parameters = [], {}
        if self.doc_ids is not None:
            clauses.append(f"{alias}.doc_id = ANY(%(only_docs)s)")
            parameters["only_docs"] = list(self.doc_ids)
        if self.speakers is not None:
            clauses.append(f"({alias}.doc_id = ANY(%(author_docs)s) OR {alias}.speaker = ANY(%(speakers)s))")
            parameters.update(author_docs=list(self.author_docs), speakers=list(self.speakers))
        return " AND ".join(clauses) or "true", parameters


def where(url: str) -> str:
    """The database a URL names, for messages: host, port and database name, never the password."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except Exception:  # noqa: BLE001 - any unparsable URL is shown as "the database"
        return "the database"
    host = parts.get("host") or "localhost"
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"PostgreSQL database '{parts.get('dbname', '')}' on {host}{port}"


def schema_sql(dimension: int, indexes: bool = True) -> str:
    """The tables of a store whose vectors have `dimension` numbers (created by the writer); without `indexes`,
    the search indexes of index_sql() are left for the writer to create once the rows are in."""
    s = SCHEMA_NAME
    return f"""
    CREATE SCHEMA IF NOT EXISTS {s};
    CREATE TABLE {s}.meta (key text PRIMARY KEY, value text NOT NULL);
    CREATE TABLE {s}.documents (
        doc_id text COLLATE "C" PRIMARY KEY, path text NOT NULL, format text NOT NULL, sha256 text NOT NULL,
        fingerprint text NOT NULL, body_start integer NOT NULL, text text NOT NULL,
        title text NOT NULL, citation_title text, author text COLLATE "C", speaker text COLLATE "C", kind text,
        date text COLLATE "C", place text, reference text, url text, published_time text,
        first_passage bigint NOT NULL, passage_count integer NOT NULL
    );
    CREATE TABLE {s}.passages (
        id bigint PRIMARY KEY, doc_id text COLLATE "C" NOT NULL REFERENCES {s}.documents ON DELETE CASCADE,
        start integer NOT NULL, "end" integer NOT NULL, paragraph integer NOT NULL, speaker text COLLATE "C",
        text text NOT NULL, sentences text NOT NULL, speaker_label text COLLATE "C",
        context_group bigint NOT NULL, text_length integer NOT NULL, context_length integer NOT NULL,
        embedding vector({int(dimension)}) NOT NULL
    );
    CREATE INDEX passages_doc ON {s}.passages (doc_id, id);
    CREATE INDEX passages_speaker ON {s}.passages (speaker);
    CREATE TABLE {s}.postings (
        term text COLLATE "C" NOT NULL, passage_id bigint NOT NULL, tf integer NOT NULL, length integer NOT NULL,
        context_group bigint NOT NULL
    );
    CREATE TABLE {s}.context_postings (
        term text COLLATE "C" NOT NULL, group_id bigint NOT NULL, tf integer NOT NULL, length integer NOT NULL,
        passages integer NOT NULL
    );
    CREATE TABLE {s}.terms (
        term text COLLATE "C" NOT NULL, field smallint NOT NULL, df integer NOT NULL, PRIMARY KEY (term, field)
    );
    CREATE TABLE {s}.fields (field smallint PRIMARY KEY, n bigint NOT NULL, total bigint NOT NULL);
    INSERT INTO {s}.fields VALUES ({TEXT_FIELD}, 0, 0), ({CONTEXT_FIELD}, 0, 0);
    CREATE TABLE {s}.unreadable (fingerprint text PRIMARY KEY, reason text NOT NULL);
    """ + (index_sql() if indexes else "")


def index_sql() -> str:
    """The search indexes: HNSW over the vectors, trigrams over the text, the postings' keys. A first build
    creates them after loading its rows, which is several times faster than keeping them up to date row by row
    (docs/stores.md); later ingests update them as they go."""
    s = SCHEMA_NAME
    return f"""
    CREATE INDEX passages_embedding ON {s}.passages USING hnsw (embedding vector_ip_ops)
        WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION});
    CREATE INDEX passages_trigrams ON {s}.passages USING gin (text gin_trgm_ops);
    ALTER TABLE {s}.postings ADD PRIMARY KEY (term, passage_id) INCLUDE (tf, length, context_group);
    CREATE INDEX postings_passage ON {s}.postings (passage_id);
    ALTER TABLE {s}.context_postings ADD PRIMARY KEY (term, group_id) INCLUDE (tf, length);
    CREATE INDEX context_postings_group ON {s}.context_postings (group_id);
    CREATE INDEX passages_group ON {s}.passages (context_group, id);
    """


def connect_pool(url: str, size: int = POOL_SIZE):
    """A psycopg connection pool that registers pgvector's type on each connection and checks a connection
    before lending it, so a restarted database is reconnected to without restarting the app."""
    from pgvector.psycopg import register_vector
    from psycopg_pool import ConnectionPool

    return ConnectionPool(
        url,
        min_size=1,
        max_size=size,
        configure=register_vector,
        check=ConnectionPool.check_connection,
        open=True,
        timeout=3,  # seconds a query waits for a connection before saying the database cannot be reached
        name="quote-assistant",
    )


def read_meta(connection) -> dict[str, str] | None:
    """The store's meta table; None when the database holds no store yet."""
    (exists,) = connection.execute("SELECT to_regclass(%s) IS NOT NULL", [f"{SCHEMA_NAME}.meta"]).fetchone()
    if not exists:
        return None
    return dict(connection.execute(f"SELECT key, value FROM {SCHEMA_NAME}.meta").fetchall())


class PostgresStore:
    """A store in PostgreSQL, read through a small connection pool. Safe to share between threads.

    Open with PostgresStore.open(url, model, dimension). Each read is one transaction; what a
    loaded store caches (documents' list, people) belongs to its generation, and a newer generation
    is seen by is_current() and read by opening the store again.
    """

    def __init__(self, url: str, pool, meta: dict[str, str]) -> None:
        self.url = url
        self.damage: str | None = None
        self._pool = pool
        self._meta = meta
        self.generation = int(meta["generation"])
        self._size = int(meta.get("passages", 0))
        self._dimension = int(meta["dimension"])
        self._lock = threading.Lock()
        self._people: dict[str, tuple[str, ...]] | None = None
        self._person_of: dict[str, str] | None = None
        self._avgdl: dict[int, tuple[int, float]] | None = None

    @classmethod
    def open(cls, url: str, model: str | None = None, dimension: int | None = None) -> PostgresStore:
        """Connect to the store at `url`. Raises IndexMissingError when it holds none yet, StoreMismatchError
        when it was made with another model or dimension than the given ones, StoreUnavailableError."""
        import psycopg

        try:
            pool = connect_pool(url)
        except (psycopg.Error, Exception) as error:  # the pool raises PoolTimeout when it cannot connect
            raise StoreUnavailableError(_unreachable(url, error)) from error
        try:
            with pool.connection() as connection:
                meta = read_meta(connection)
        except psycopg.Error as error:
            pool.close()
            raise StoreUnavailableError(_unreachable(url, error)) from error
        if meta is None or "generation" not in meta:
            pool.close()
            raise IndexMissingError(
                f"The {where(url)} holds no index yet. Build it with `python -m assistant ingest --store URL`."
            )
        problem = mismatch(meta, model, dimension)
        if problem:
            pool.close()
            raise StoreMismatchError(f"The {where(url)} {problem}")
        return cls(url, pool, meta)

    # --- reading ---

    def _read(
        self, sql: str, parameters: Sequence | dict = (), settings: Sequence[str] = (), binary: bool = False
    ) -> list[tuple]:
        """One read-only transaction: `settings` (SET LOCAL statements) then the query; `binary` results for
        vectors (pgvector's binary loader is ~10× faster than parsing their text)."""
        import psycopg

        try:
            with self._pool.connection() as connection, connection.transaction():
                for statement in settings:
                    connection.execute(statement)
                return connection.execute(sql, parameters, binary=binary).fetchall()
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            raise StoreUnavailableError(_unreachable(self.url, error)) from error
        except Exception as error:
            if type(error).__name__ == "PoolTimeout":
                raise StoreUnavailableError(_unreachable(self.url, error)) from error
            raise

    @property
    def size(self) -> int:
        return self._size

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def model(self) -> str | None:
        return self._meta.get("model")

    @property
    def manifest(self) -> dict:
        """What the store records of how it was built (the embedded index's manifest, in part)."""
        return {**self._meta, "passages": self._size}

    def is_current(self) -> bool:
        """Whether the database still holds this generation. A database that cannot be reached now counts as
        current: the replica keeps its engine and each query says the database is unreachable."""
        if self.damage is not None:
            return False
        try:
            rows = self._read(f"SELECT value FROM {SCHEMA_NAME}.meta WHERE key = 'generation'")
        except StoreUnavailableError:
            return True
        except Exception:  # noqa: BLE001 - the schema was dropped or replaced: not this generation
            return False
        return bool(rows) and int(rows[0][0]) == self.generation

    def passages(self, ids: Iterable[int]) -> dict[int, Passage]:
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        rows = self._read(f"SELECT {PASSAGE_COLUMNS} FROM {SCHEMA_NAME}.passages WHERE id = ANY(%s)", [ids])
        return {row[0]: self._named(passage_from_row(row)) for row in rows}

    def document_passages(self, doc_id: str, as_stored: bool = False) -> list[Passage]:
        rows = self._read(
            f"SELECT {PASSAGE_COLUMNS} FROM {SCHEMA_NAME}.passages WHERE doc_id = %s ORDER BY id", [doc_id]
        )
        return [passage_from_row(row) if as_stored else self._named(passage_from_row(row)) for row in rows]

    def passages_overlapping(self, doc_id: str, start: int, end: int) -> list[int]:
        rows = self._read(
            f'SELECT id FROM {SCHEMA_NAME}.passages WHERE doc_id = %s AND "end" > %s AND start < %s ORDER BY id',
            [doc_id, start, end],
        )
        return [row[0] for row in rows]

    def documents(self) -> list[DocumentInfo]:
        rows = self._read(f"SELECT {DOCUMENT_COLUMNS} FROM {SCHEMA_NAME}.documents ORDER BY date IS NULL, date, doc_id")
        return [document_from_row(row) for row in rows]

    def document(self, doc_id: str) -> DocumentInfo:
        rows = self._read(f"SELECT {DOCUMENT_COLUMNS} FROM {SCHEMA_NAME}.documents WHERE doc_id = %s", [doc_id])
        if not rows:
            raise UnknownDocumentError(f"There is no document '{doc_id}' in the index.")
        return document_from_row(rows[0])

    def document_text(self, doc_id: str) -> str:
        rows = self._read(f"SELECT text FROM {SCHEMA_NAME}.documents WHERE doc_id = %s", [doc_id])
        if not rows:
            raise UnknownDocumentError(f"There is no document '{doc_id}' in the index.")
        return rows[0][0]

    def authors(self) -> set[str]:
        return {row[0] for row in self._read(f"SELECT author FROM {SCHEMA_NAME}.documents WHERE author IS NOT NULL")}

    def people(self) -> dict[str, tuple[str, ...]]:
        if self._people is None:
            rows = self._read(
                f"SELECT speaker, speaker_label, count(*) FROM {SCHEMA_NAME}.passages WHERE speaker IS NOT NULL "
                "GROUP BY speaker, speaker_label ORDER BY speaker, speaker_label NULLS FIRST"
            )
            self._people = people_from_speakers(rows)
        return self._people

    def person_named(self, speaker: str | None) -> str | None:
        if self._person_of is None:
            self._person_of = {value: name for name, values in self.people().items() for value in values}
        return self._person_of.get(speaker, speaker)

    def _named(self, passage: Passage) -> Passage:
        named = self.person_named(passage.speaker)
        return passage if named == passage.speaker else replace(passage, speaker=named)

    def questioners(self) -> tuple[str, ...]:
        rows = self._read(
            f"SELECT DISTINCT p.speaker FROM {SCHEMA_NAME}.passages p JOIN {SCHEMA_NAME}.documents d USING (doc_id) "
            "WHERE p.speaker_label IS NOT NULL "
            "AND (p.speaker = %s OR (d.speaker IS NOT NULL AND p.speaker != d.speaker)) ORDER BY p.speaker",
            [REPORTER],
        )
        return tuple(row[0] for row in rows)

    # --- retrieval ---

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        ids = [int(i) for i in ids]
        if not ids:
            return np.zeros((0, self._dimension), dtype=np.float32)
        rows = self._read(f"SELECT id, embedding FROM {SCHEMA_NAME}.passages WHERE id = ANY(%s)", [ids], binary=True)
        found = {pid: vector.to_numpy() for pid, vector in rows}
        gone = np.zeros(self._dimension, dtype=np.float32)  # removed by an ingest since it was found
        return np.stack([found.get(i, gone) for i in ids]).astype(np.float32, copy=False)

    def dense(self, query: np.ndarray, depth: int, allowed: np.ndarray | None = None) -> list[int]:
        if self._size == 0:
            return []
        vector = np.asarray(query, dtype=np.float32)
        table = f"{SCHEMA_NAME}.passages"
        ef = [f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, int(depth))}"]
        if allowed is None and self._meta.get("index_kind") == "flat":  # as the embedded index up to its size
            rows = self._read(f"SELECT id FROM {table} ORDER BY (embedding <#> %s) + 0, id LIMIT %s", [vector, depth])
        elif allowed is None:
            rows = self._read(f"SELECT id FROM {table} ORDER BY embedding <#> %s LIMIT %s", [vector, depth], ef)
        elif isinstance(allowed, Predicate) and self._meta.get("index_kind") == "flat":  # exact, as unfiltered
            where, parameters = allowed.sql("p")
            rows = self._read(
                f"SELECT p.id FROM {table} p WHERE {where} ORDER BY (p.embedding <#> %(q)s) + 0, p.id LIMIT %(depth)s",
                {**parameters, "q": vector, "depth": depth},
            )
        elif isinstance(allowed, Predicate):  # many allowed: tested on each row the index scan reaches
            where, parameters = allowed.sql("p")
            rows = self._read(
                f"SELECT p.id FROM {table} p WHERE {where} ORDER BY p.embedding <#> %(q)s LIMIT %(depth)s",
                {**parameters, "q": vector, "depth": depth},
                [*ef, "SET LOCAL hnsw.iterative_scan = strict_order", "SET LOCAL hnsw.max_scan_tuples = 1000000"],
            )
        elif len(allowed) <= EXACT_BELOW:  # "+ 0" keeps the planner off the index: every allowed row is read
            rows = self._read(
                f"SELECT id FROM {table} WHERE id = ANY(%s) ORDER BY (embedding <#> %s) + 0, id LIMIT %s",
                [[int(i) for i in allowed], vector, depth],
            )
        else:
            rows = self._read(
                f"SELECT id FROM {table} WHERE id = ANY(%s) ORDER BY embedding <#> %s LIMIT %s",
                [[int(i) for i in allowed], vector, depth],
                [*ef, "SET LOCAL hnsw.iterative_scan = strict_order", "SET LOCAL hnsw.max_scan_tuples = 1000000"],
            )
        return [row[0] for row in rows]

    def _field_stats(self) -> dict[int, tuple[int, float]]:
        if self._avgdl is None:
            rows = self._read(f"SELECT field, n, total FROM {SCHEMA_NAME}.fields")
            self._avgdl = {field: (n, total / n if n else 1.0) for field, n, total in rows}
        return self._avgdl

    def keyword(self, terms: Sequence[str], depth: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """BM25 as keywords.KeywordIndex scores it (bm25s, Lucene's idf): per field
        idf = ln(1 + (N - df + 0.5) / (df + 0.5)), tf part = tf / (tf + k1 (1 - b + b · length / avgdl)),
        the text field's sum plus CONTEXT_WEIGHT times the context field's; each query word counts as often
        as it occurs.

        The context score is computed once per context group. A passage no text posting matches scores its
        group's context score alone, so of those only the first `depth` passages (by id, the tie order) of
        the `depth` best groups (ties: by their first passage) can be in the top `depth`; of the passages a
        text posting matches, only the `depth` best. One of those found again as a group's passage has its
        context score alone there, lower than its own, so the larger (max) is its score. The ranking is
        exact while reading one row per group, not per passage."""
        stems = [stem(word.casefold()) for word in terms]
        if not stems or self._size == 0 or (allowed is not None and len(allowed) == 0):
            return []
        stats = self._field_stats()
        (n_text, avg_text), (n_context, avg_context) = stats[TEXT_FIELD], stats[CONTEXT_FIELD]
        s = SCHEMA_NAME
        passes: dict = {}
        restrict_text = restrict_best = in_group = groups = ""
        group_order = "c.group_id"
        if isinstance(allowed, Predicate):  # a group passes or fails whole: its first passage is tested
            where, passes = allowed.sql("f")
            groups = f"""allowed_groups AS MATERIALIZED (
                SELECT g.group_id, g.group_id AS first
                FROM (SELECT group_id FROM context_scores UNION SELECT context_group FROM text_scores) g
                JOIN {s}.passages f ON f.id = g.group_id WHERE {where}),"""
            group_order = "a.first"
            restrict_best = "WHERE t.context_group IN (SELECT group_id FROM allowed_groups)"
        elif allowed is not None:  # the groups with an allowed passage, each ordered by its first allowed one
            groups = f"""allowed_groups AS MATERIALIZED (
                SELECT context_group AS group_id, min(id) AS first FROM {s}.passages
                WHERE id = ANY(%(allowed)s) GROUP BY context_group),"""
            in_group, group_order = "AND x.id = ANY(%(allowed)s)", "a.first"
            restrict_text = "AND p.passage_id = ANY(%(allowed)s)"
        join_allowed = "JOIN allowed_groups a ON a.group_id = c.group_id" if allowed is not None else ""
        tf_part = "{0}.tf / ({0}.tf + %(k1)s * (1 - %(b)s + %(b)s * {0}.length / %(avgdl_{1})s))"
        sql = f"""
            WITH q AS (SELECT t AS term, count(*) AS times FROM unnest(%(stems)s::text[]) t GROUP BY t),
            weighted AS MATERIALIZED (
                SELECT q.term, s.field, q.times * ln(1 + (n.n - s.df + 0.5) / (s.df + 0.5)) AS idf
                FROM q JOIN {s}.terms s ON s.term = q.term
                JOIN (VALUES ({TEXT_FIELD}::smallint, %(n_text)s::float8),
                             ({CONTEXT_FIELD}::smallint, %(n_context)s::float8)) n (field, n) ON n.field = s.field),
            text_scores AS (
                SELECT p.passage_id, p.context_group, sum(w.idf * {tf_part.format("p", "text")}) AS score
                FROM weighted w JOIN {s}.postings p ON p.term = w.term
                WHERE w.field = {TEXT_FIELD} {restrict_text}
                GROUP BY p.passage_id, p.context_group),
            context_scores AS (
                SELECT g.group_id, %(weight)s * sum(w.idf * {tf_part.format("g", "context")}) AS score
                FROM weighted w JOIN {s}.context_postings g ON g.term = w.term
                WHERE w.field = {CONTEXT_FIELD}
                GROUP BY g.group_id),
            {groups}
            best_groups AS (
                SELECT c.group_id, c.score FROM context_scores c {join_allowed}
                ORDER BY c.score DESC, {group_order} LIMIT %(depth)s),
            best_text AS (
                SELECT t.passage_id AS id, t.score + coalesce(c.score, 0) AS score
                FROM text_scores t LEFT JOIN context_scores c ON c.group_id = t.context_group {restrict_best}
                ORDER BY score DESC, id LIMIT %(depth)s),
            scored AS (
                SELECT id, score FROM best_text
                UNION ALL
                SELECT x.id, b.score FROM best_groups b CROSS JOIN LATERAL (
                    SELECT x.id FROM {s}.passages x WHERE x.context_group = b.group_id {in_group}
                    ORDER BY x.id LIMIT %(depth)s) x)
            SELECT id, max(score) AS score FROM scored GROUP BY id ORDER BY score DESC, id LIMIT %(depth)s
        """
        parameters = {
            "stems": stems,
            "n_text": n_text,
            "avgdl_text": avg_text,
            "n_context": n_context,
            "avgdl_context": avg_context,
            "weight": CONTEXT_WEIGHT,
            "k1": BM25_K1,
            "b": BM25_B,
            "depth": depth,
            "allowed": None if allowed is None or isinstance(allowed, Predicate) else [int(i) for i in allowed],
            **passes,
        }
        return [(pid, float(score)) for pid, score in self._read(sql, parameters) if score > 0]

    def known(self, terms: Sequence[str]) -> set[str]:
        stems = {word: stem(word.casefold()) for word in terms}
        if not stems:
            return set()
        rows = self._read(
            f"SELECT DISTINCT term FROM {SCHEMA_NAME}.terms WHERE term = ANY(%s) AND df > 0", [list(stems.values())]
        )
        found = {row[0] for row in rows}
        return {word for word, stemmed in stems.items() if stemmed in found}

    def restricted(self, restriction: Restriction, within: np.ndarray | None = None) -> np.ndarray | Predicate:
        """The ids a restriction allows when at most EXACT_BELOW passages pass it (or `within` is given); a
        Predicate when more do, which dense and keyword apply inside their queries: listing 800,000 ids (a
        briefing room's main speaker in 2,000,000 passages) and sending them back took seconds."""
        predicate = self._predicate(restriction)
        where, parameters = predicate.sql("p")
        if within is not None:
            rows = self._read(
                f"SELECT p.id FROM {SCHEMA_NAME}.passages p WHERE p.id = ANY(%(within)s) AND {where} ORDER BY p.id",
                {**parameters, "within": [int(i) for i in within]},
            )
            return np.array([row[0] for row in rows], dtype=np.int64)
        rows = self._read(
            f"SELECT p.id FROM {SCHEMA_NAME}.passages p WHERE {where} LIMIT {EXACT_BELOW + 1}", parameters
        )
        if len(rows) > EXACT_BELOW:
            return predicate
        return np.array(sorted(row[0] for row in rows), dtype=np.int64)

    def _predicate(self, restriction: Restriction) -> Predicate:
        """The restriction on passages' own columns: its document-level parts resolved to document ids here."""
        documents, parameters = [], []
        if restriction.doc_ids:
            documents.append("d.doc_id = ANY(%s)")
            parameters.append(list(restriction.doc_ids))
        if restriction.spoken_in:
            documents.append(
                f"EXISTS (SELECT 1 FROM {SCHEMA_NAME}.passages s WHERE s.doc_id = d.doc_id AND s.speaker = ANY(%s))"
            )
            parameters.append(list(restriction.spoken_in))
        if restriction.date_from:
            documents.append("d.date >= %s")
            parameters.append(restriction.date_from)
        if restriction.date_to:
            documents.append("d.date <= %s")
            parameters.append(restriction.date_to + "\uffff")  # a partial date ("2023") includes its whole span
        doc_ids = None
        if documents:
            sql = f"SELECT d.doc_id FROM {SCHEMA_NAME}.documents d WHERE " + " AND ".join(documents)
            rows = self._read(sql, parameters)
            doc_ids = tuple(row[0] for row in rows)
        if not (restriction.authors or restriction.speakers):
            return Predicate(doc_ids, (), None)
        rows = self._read(
            f"SELECT doc_id FROM {SCHEMA_NAME}.documents WHERE author = ANY(%s)", [list(restriction.authors)]
        )
        return Predicate(doc_ids, tuple(row[0] for row in rows), tuple(restriction.speakers))

    def phrase(self, phrase: str, limit: int | None = None) -> list[int]:
        """Passages whose text holds the phrase's words in order, ignoring case (ILIKE, trigram index)."""
        words = phrase_terms(phrase)
        if not words:
            return []
        pattern = "%" + "%".join(_like_escaped(word) for word in words) + "%"
        sql = f"SELECT id FROM {SCHEMA_NAME}.passages WHERE text ILIKE %s ORDER BY id"
        parameters: list = [pattern]
        if limit is not None:
            sql += " LIMIT %s"
            parameters.append(limit)
        return [row[0] for row in self._read(sql, parameters)]

    def close(self) -> None:
        with self._lock:
            self._pool.close()


def mismatch(meta: dict[str, str], model: str | None, dimension: int | None) -> str | None:
    """Why a store with this meta cannot serve an embedder of `model` and `dimension` (None when it can)."""
    if int(meta.get("format", 0)) != PG_FORMAT:
        return (
            f"holds a store of format {meta.get('format')}, and this version reads format {PG_FORMAT}. "
            "Rebuild it with `python -m assistant ingest --store URL --rebuild`."
        )
    if (
        model is not None
        and meta.get("model") != model
        or dimension is not None
        and int(meta["dimension"]) != dimension
    ):
        return (
            f"was built with {meta.get('model')} ({meta.get('dimension')} dimensions); this app embeds questions "
            f"with {model} ({dimension} dimensions), whose vectors cannot be compared with them. Set ASSISTANT_MODEL "
            "to the store's model, or rebuild it with `python -m assistant ingest --store URL --rebuild`."
        )
    return None


def _unreachable(url: str, error: Exception) -> str:
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return f"The {where(url)} cannot be reached ({reason}). Nothing was searched; try again when it is back."


def _like_escaped(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
