"""The command line: flags come from the settings object; indexing shows progress on stderr.

Without ``--search`` or ``--ask`` the window opens: the caller (``main.py``) passes
the function that opens it, so the core never imports ``app`` or Qt.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

from rag.ocr import describe
from rag.progress import format_duration, status_line
from rag.settings import LiveSettings, Settings
from rag.types import FileStatus, IndexProgress, IndexReport

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NOTHING = 0, 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="quarry",
        description="Ask questions of a folder of documents, offline, with "
        "every claim cited to its page.",
    )
    p.add_argument("--docs", metavar="DIR", help="Folder of documents to index and ask.")
    p.add_argument(
        "--library",
        metavar="NAME",
        help="A library by name (instead of --docs); see --list-libraries.",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--search",
        metavar="QUESTION",
        help="Print the best-matching passages ('-' reads one question per line "
        "from stdin and writes one JSON line each).",
    )
    mode.add_argument(
        "--ask",
        metavar="QUESTION",
        help="Print a cited answer ('-' reads one question per line from stdin and "
        "writes one JSON line each).",
    )
    mode.add_argument(
        "--list-models", action="store_true", help="List the models Quarry can use and exit."
    )
    mode.add_argument(
        "--list-libraries",
        action="store_true",
        help="List the libraries (named folders, each with its own index) and exit.",
    )
    mode.add_argument(
        "--profiles",
        action="store_true",
        help="List what each document of the folder is (organisations, period, kind, "
        "language) and exit.",
    )
    mode.add_argument(
        "--smoke-test",
        action="store_true",
        help="Open the window, index the folder, ask one question, and exit.",
    )
    p.add_argument("--json", action="store_true", help="Write JSON instead of text.")
    p.add_argument(
        "--no-index",
        action="store_true",
        help="Use the saved index as it is, without checking the folder for changes.",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="No progress bar.")
    p.add_argument(
        "--debug", action="store_true", help="Show the full traceback of an error, for a report."
    )
    Settings.add_arguments(p)
    return p


# The window gets the saved settings and this run's flags apart, so it never saves a flag.
OpenWindow = Callable[[LiveSettings, Path | None, bool], int]


def run(argv: list[str], open_window: OpenWindow | None = None) -> int:
    """Run the command line; ``open_window(settings, folder, smoke_test)`` shows the GUI."""
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        live = LiveSettings.from_args(Settings.load(), ns)
    except ValueError as exc:
        parser.error(str(exc))
    settings = live.effective
    if ns.list_models:
        return _list_models(settings, ns.json)
    if ns.list_libraries:
        return _list_libraries(ns.json)
    if ns.library:
        if ns.docs:
            parser.error("give --docs DIR or --library NAME, not both")
        from rag.libraries import Libraries, LibraryError

        try:
            ns.docs = Libraries().get(ns.library).folder
        except LibraryError as exc:
            print(f"quarry: {exc}", file=sys.stderr)
            return EXIT_USAGE
    if ns.search is None and ns.ask is None and not ns.profiles:
        if open_window is None:
            parser.error("give --search or --ask (the window is not available here)")
        return open_window(live, Path(ns.docs) if ns.docs else None, ns.smoke_test)
    if not ns.docs:
        parser.error("--search, --ask and --profiles need --docs DIR")

    try:
        return _headless(ns, settings)
    except Exception as exc:
        message = person_message(exc)
        if message is None or ns.debug:
            raise
        print(f"quarry: {message}", file=sys.stderr)
        return EXIT_ERROR


def person_message(exc: BaseException) -> str | None:
    """One sentence for an error a person can cause or meet (a missing folder, a full or
    read-only disk, no permission, a damaged or locked index); None for a bug."""
    import sqlite3

    from models import ModelError
    from rag import errors
    from rag.embeddings import EmbeddingModelError
    from rag.engine import FolderError
    from rag.store import IndexStoreError

    if isinstance(exc, FolderError | IndexStoreError | ModelError | EmbeddingModelError):
        return str(exc)
    if isinstance(exc, OSError | sqlite3.Error):
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        advice = errors.advice(exc)
        text = f"{errors.reason(exc)}{where}"
        return (text[:1].upper() + text[1:]) + (f"; {advice}." if advice else ".")
    return None


def _headless(ns: argparse.Namespace, settings: Settings) -> int:
    from rag.engine import Engine
    from rag.store import IndexDamagedError

    with Engine(settings) as engine:
        engine.open_folder(Path(ns.docs))
        if engine.rebuild_reason and not ns.quiet:
            print(f"quarry: rebuilding the index: {engine.rebuild_reason}", file=sys.stderr)
        if not ns.no_index:
            _index(engine, ns)
        if not any(
            f.status in (FileStatus.INDEXED, FileStatus.UNCHANGED) and f.chunks
            for f in engine.files()
        ):
            print("quarry: nothing could be indexed in this folder.", file=sys.stderr)
            return EXIT_NOTHING
        if ns.profiles:
            return _profiles(engine, ns.json)
        try:
            if ns.search is not None:
                return _search(engine, ns.search, settings.retrieval.k, ns.json)
            return _ask(engine, ns.ask, ns.json)
        except IndexDamagedError as exc:
            # The engine has emptied the index; build it again and ask once more.
            print(f"quarry: {exc} Rebuilding it now.", file=sys.stderr)
            _index(engine, ns)
            if ns.search is not None:
                return _search(engine, ns.search, settings.retrieval.k, ns.json)
            return _ask(engine, ns.ask, ns.json)


def _index(engine, ns: argparse.Namespace) -> None:
    bar = ProgressBar(sys.stderr, enabled=not ns.quiet)
    report = engine.index(on_progress=bar.update)
    bar.finish()
    if report.note:
        print(f"quarry: {report.note}", file=sys.stderr)
    elif not ns.quiet:
        print_summary(report, sys.stderr)


def _questions(arg: str) -> Iterable[str]:
    if arg != "-":
        yield arg
        return
    for line in sys.stdin:
        line = line.strip()
        if line:
            yield line


def _search(engine, arg: str, k: int, as_json: bool) -> int:
    for q in _questions(arg):
        hits = engine.search(q, k)
        if as_json or arg == "-":
            print(
                json.dumps(
                    {"question": q, "hits": [h.to_json() for h in hits]}, ensure_ascii=False
                ),
                flush=True,
            )
            continue
        if not hits:
            print("No passages found.")
        for i, h in enumerate(hits, 1):
            where = h.file + (f", p. {h.page}" if h.page else "")
            ocr = f", {describe(h.ocr_confidence)}" if h.ocr else ""
            print(f"[{i}] {where}  (score {h.score:.2f}{ocr})")
            print("    " + " ".join(h.text.split())[:400])
    return EXIT_OK


def _profiles(engine, as_json: bool) -> int:
    from rag.profiles import Profile

    profiles = engine.profiles()
    if as_json:
        print(json.dumps(profiles, ensure_ascii=False, indent=1))
        return EXIT_OK
    for path in sorted(profiles):
        p = Profile.from_json(profiles[path])
        print(f"{path}\n    {p.line()}")
        for org in p.organisations:
            if org.aliases:
                print(f"    also: {', '.join(org.aliases)}")
    return EXIT_OK


def _ask(engine, arg: str, as_json: bool) -> int:
    from models import ModelError
    from rag.render import answer_json, format_answer

    try:
        engine.load_model()
    except ModelError as exc:
        print(f"quarry: {exc}", file=sys.stderr)
        return EXIT_ERROR
    for q in _questions(arg):
        stream = not as_json and arg != "-" and sys.stdout.isatty()
        try:
            answer = engine.ask(
                q, on_token=(lambda t: print(t, end="", flush=True)) if stream else None
            )
        except ModelError as exc:  # a model server that stopped answering, for one
            print(f"quarry: {exc}", file=sys.stderr)
            return EXIT_ERROR
        if as_json or arg == "-":
            print(json.dumps(answer_json(answer), ensure_ascii=False), flush=True)
        else:
            if stream:
                print("\n")
            print(format_answer(answer))
    return EXIT_OK


def _list_libraries(as_json: bool) -> int:
    from dataclasses import asdict

    from rag.libraries import Libraries

    libraries = Libraries().all()
    if as_json:
        print(json.dumps([asdict(lib) for lib in libraries], ensure_ascii=False))
        return EXIT_OK
    if not libraries:
        print("No libraries yet: open a folder with --docs DIR in the window to add one.")
    for lib in libraries:
        print(f"{lib.name}\n    {lib.folder}\n    {lib.state()}")
    return EXIT_OK


def _list_models(settings: Settings, as_json: bool) -> int:
    import models

    request = settings.model.request()
    infos = models.available_models(request)
    if as_json:
        print(
            json.dumps(
                [{"name": m.name, "spec": m.spec, "label": m.label} for m in infos],
                ensure_ascii=False,
            )
        )
    else:
        print(f"Device: {models.describe_device(request)}")
        for m in infos:
            print(f"  {m.label}\n    --model {m.spec}")
    return EXIT_OK


class ProgressBar:
    """Both phases of indexing on one redrawn stderr line (plain lines every few
    seconds when stderr is not a terminal): files read, then the meaning index."""

    def __init__(self, out: TextIO, enabled: bool = True) -> None:
        self.out = out
        self.enabled = enabled
        self.tty = out.isatty()
        self._last = 0.0
        self._drawn = False

    def update(self, done: int, total: int, d: IndexProgress) -> None:
        if not self.enabled or d.stage == "done":
            return
        now = time.monotonic()
        if (
            now - self._last < (0.1 if self.tty else 5.0)
            and d.stage in ("indexing", "ocr", "embedding")
            and done != total
        ):
            return
        self._last = now
        line = self.line(done, total, d)
        if self.tty:
            width = 100
            self.out.write("\r" + line[:width].ljust(width))
        else:
            self.out.write(line + "\n")
        self.out.flush()
        self._drawn = True

    @staticmethod
    def line(done: int, total: int, d: IndexProgress) -> str:
        text = status_line(done, total, d)
        if d.stage not in ("indexing", "embedding"):
            return text
        frac = done / total if total else 1.0
        filled = int(frac * 24)
        bar = "█" * filled + "·" * (24 - filled)
        name = d.file if len(d.file) <= 40 else "…" + d.file[-39:]
        return f"{bar} {text}  {name}".rstrip()

    def finish(self) -> None:
        if self.enabled and self.tty and self._drawn:
            self.out.write("\n")
            self.out.flush()


def print_summary(report: IndexReport, out: TextIO) -> None:
    """What happened, with every file that was not indexed and why."""
    n_new = report.count(FileStatus.INDEXED)
    n_same = report.count(FileStatus.UNCHANGED)
    parts = [
        f"{n_new} file{'s' if n_new != 1 else ''} indexed ({report.chunks_added} chunks)",
        f"{n_same} unchanged",
    ]
    if report.removed:
        parts.append(f"{len(report.removed)} removed")
    if report.embedded:
        parts.append(f"{report.embedded} passages embedded")
    state = "Stopped" if report.cancelled else "Done"
    out.write(f"{state} in {format_duration(report.seconds)}: " + ", ".join(parts) + ".\n")
    if report.pending:
        out.write(
            f"{report.pending} passages still wait for the meaning index; "
            "they are found by their words until the next run embeds them.\n"
        )
    problems = report.problems
    if problems:
        out.write(f"{len(problems)} file{'s' if len(problems) != 1 else ''} not indexed:\n")
        for f in problems:
            out.write(f"  {f.status.value:8} {f.file}: {f.reason}\n")
    out.flush()
