"""Conversations saved as they happen, in one SQLite file in the data folder.

A question is written when it is asked and its answer when it is finished, each
in its own transaction, so a crash or kill loses at most the answer being
generated (the question stays, marked unanswered). Answers are kept whole (their
sentences, support marks, sources with file, page and offsets), so a reopened
conversation shows the same marks and its citations still open their passages.
Conversations belong to a library (by its folder), so each library lists its own.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import sqlite3
import threading
import time
import types
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag import errors, paths
from rag.types import Answer

SCHEMA = 1
ALL_LIBRARIES = "*"  # the library key of conversations asked across every library
TITLE_CHARS = 80

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    library TEXT NOT NULL,
    title TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_by_library ON conversations(library, updated);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    question TEXT NOT NULL,
    answer TEXT,
    answer_text TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    asked REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns(conversation, id);
"""


class ConversationError(RuntimeError):
    """The conversation file cannot be read or written; the message says why."""


@dataclass(frozen=True)
class ConversationInfo:
    id: int
    library: str
    title: str
    created: float
    updated: float
    turns: int = 0


@dataclass
class Turn:
    """One question and what came back: an Answer, an error message, or None (unfinished)."""

    id: int
    question: str
    answer: Answer | None = None
    error: str = ""
    asked: float = 0.0


@dataclass
class Conversation:
    info: ConversationInfo
    turns: list[Turn] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Everything, for export: the title, the library, and each answer whole."""
        return {
            "title": self.info.title,
            "library": self.info.library,
            "created": _iso(self.info.created),
            "updated": _iso(self.info.updated),
            "turns": [
                {
                    "question": t.question,
                    "asked": _iso(t.asked),
                    "answer": t.answer.to_json() if t.answer is not None else None,
                    "error": t.error,
                }
                for t in self.turns
            ],
        }


def title_for(question: str) -> str:
    """The first question, cut at a word border: a conversation's default title."""
    text = " ".join(question.split())
    if len(text) <= TITLE_CHARS:
        return text
    cut = text[: TITLE_CHARS - 1]
    if " " in cut[TITLE_CHARS // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:") + "…"


class ConversationStore:
    """The saved conversations of every library. Use from one thread (the window's)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else paths.data_dir() / "conversations.sqlite"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            # Commits are atomic either way; NORMAL skips the fsync per commit, which on a
            # busy disk would stall the window (a power cut may lose the last few turns).
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.executescript(_SCHEMA)
            self._conn.execute(f"PRAGMA user_version={SCHEMA}")
        except (OSError, sqlite3.Error) as exc:
            raise ConversationError(
                f"Cannot open the saved conversations in {self.path}: {errors.reason(exc)}; "
                f"{errors.advice(exc) or 'check the data folder'}."
            ) from exc
        self._lock = threading.Lock()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise ConversationError(f"Could not save the conversation: {exc}") from exc

    # -- writing as it happens ---------------------------------------------------------
    def start(self, library: str, question: str) -> int:
        """A new conversation titled after its first question; returns its id."""
        now = time.time()
        with self._write() as db:
            cur = db.execute(
                "INSERT INTO conversations (library, title, created, updated) VALUES (?,?,?,?)",
                (library, title_for(question), now, now),
            )
            return int(cur.lastrowid)

    def add_question(self, conversation: int, question: str) -> int:
        """Save a question the moment it is asked; returns the turn's id."""
        now = time.time()
        with self._write() as db:
            cur = db.execute(
                "INSERT INTO turns (conversation, question, asked) VALUES (?,?,?)",
                (conversation, question, now),
            )
            db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation))
            return int(cur.lastrowid)

    def set_answer(self, turn: int, answer: Answer | str) -> None:
        """Save the finished answer (or the message of what went wrong) of a turn."""
        if isinstance(answer, Answer):
            values = (
                json.dumps(answer.to_json(), ensure_ascii=False, default=str),
                answer.text,
                "",
            )
        else:
            values = (None, "", str(answer))
        with self._write() as db:
            db.execute(
                "UPDATE turns SET answer = ?, answer_text = ?, error = ? WHERE id = ?",
                (*values, turn),
            )
            db.execute(
                "UPDATE conversations SET updated = ? WHERE id = "
                "(SELECT conversation FROM turns WHERE id = ?)",
                (time.time(), turn),
            )

    def rename(self, conversation: int, title: str) -> None:
        title = " ".join(title.split())
        if not title:
            raise ConversationError("A conversation needs a title.")
        with self._write() as db:
            db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, conversation))

    def delete(self, conversation: int) -> None:
        with self._write() as db:
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation,))

    def delete_library(self, library: str) -> int:
        """Delete every conversation of a library; returns how many there were."""
        with self._write() as db:
            return db.execute("DELETE FROM conversations WHERE library = ?", (library,)).rowcount

    # -- reading ------------------------------------------------------------------------
    def list(self, library: str | None = None, text: str = "") -> list[ConversationInfo]:
        """Newest first; ``text`` keeps those whose title, questions or answers contain it."""
        sql = (
            "SELECT c.id, c.library, c.title, c.created, c.updated, "
            "(SELECT count(*) FROM turns t WHERE t.conversation = c.id) FROM conversations c"
        )
        where, args = [], []
        if library is not None:
            where.append("c.library = ?")
            args.append(library)
        if text.strip():
            like = (
                "%"
                + text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                + "%"
            )
            where.append(
                "(c.title LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM turns t WHERE "
                "t.conversation = c.id AND (t.question LIKE ? ESCAPE '\\' "
                "OR t.answer_text LIKE ? ESCAPE '\\')))"
            )
            args += [like, like, like]
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY c.updated DESC, c.id DESC"
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        return [ConversationInfo(*r) for r in rows]

    def info(self, conversation: int) -> ConversationInfo | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT c.id, c.library, c.title, c.created, c.updated, "
                "(SELECT count(*) FROM turns t WHERE t.conversation = c.id) "
                "FROM conversations c WHERE c.id = ?",
                (conversation,),
            ).fetchone()
        return ConversationInfo(*row) if row else None

    def load(self, conversation: int) -> Conversation:
        info = self.info(conversation)
        if info is None:
            raise ConversationError("That conversation no longer exists.")
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, question, answer, error, asked FROM turns "
                "WHERE conversation = ? ORDER BY id",
                (conversation,),
            ).fetchall()
        turns = []
        for tid, question, answer, error, asked in rows:
            parsed = None
            if answer:
                try:
                    parsed = answer_from_json(json.loads(answer))
                except (ValueError, TypeError, KeyError):
                    error = error or "This answer could not be read back."
            turns.append(Turn(tid, question, parsed, error, asked))
        return Conversation(info, turns)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


# -- answers back from JSON ------------------------------------------------------------
def answer_from_json(data: dict[str, Any]) -> Answer:
    """The Answer that ``Answer.to_json()`` wrote, nested dataclasses and enums included.

    Built from the type hints, so a field added to Answer later is read back
    without changes here; keys the current Answer does not know are ignored.
    """
    return _build(Answer, data)


def _build(cls: type, data: Any) -> Any:
    if not isinstance(data, dict):
        raise TypeError(f"expected an object for {cls.__name__}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _convert(hints[f.name], data[f.name])
    return cls(**kwargs)


def _convert(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if arg is type(None):
                continue
            try:
                return _convert(arg, value)
            except (TypeError, ValueError):
                continue
        return value
    if dataclasses.is_dataclass(tp):
        return _build(tp, value)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(value)
    if origin in (list, tuple) or tp in (list, tuple):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        items = [_convert(args[0], v) if args else v for v in value]
        return tuple(items) if origin is tuple or tp is tuple else items
    if origin is dict:
        return dict(value)
    return value


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(seconds)) if seconds else ""
