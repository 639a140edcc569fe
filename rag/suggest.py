"""First questions to offer in an empty chat, drawn from the library's own documents.

No model is involved: a document's title and its section headings already say
what a person could ask about ("What does the Travel Policy say about per diems?").
Questions come from different documents first, so three suggestions show three
corners of the library.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_NUMBERING = re.compile(r"^\s*(?:(?:section|chapter|part|item)\s+)?[\dIVXivx]+(?:[.)]\d*)*[.)]?\s+")
_MAX_WORDS = 9


def _clean(text: str) -> str:
    text = " ".join(text.split()).strip(" #:-–—.")
    text = _NUMBERING.sub("", text)
    return text.strip(" #:-–—.")


def _usable(text: str) -> bool:
    words = text.split()
    return 0 < len(words) <= _MAX_WORDS and any(c.isalpha() for c in text) and len(text) <= 70


def _topic(heading: str) -> str:
    """A heading as the object of 'say about': sentence case unless it is an acronym/name."""
    if heading.isupper() and len(heading) > 4:
        heading = heading.capitalize()
    first = heading.split()[0]
    if first[:1].isupper() and first[1:].islower():
        heading = heading[0].lower() + heading[1:]
    return heading


def first_questions(outline: Iterable[tuple[str, str, str]], n: int = 3) -> list[str]:
    """Up to ``n`` questions from (file, title, heading) triples, one document at a time."""
    per_file: dict[str, list[str]] = {}
    for file, title, heading in outline:
        name = _clean(title) or _clean(file.rsplit("/", 1)[-1].rsplit(".", 1)[0].replace("_", " "))
        if not _usable(name):
            name = file.rsplit("/", 1)[-1]
        topic = _clean(heading)
        low, nlow = topic.lower(), name.lower()
        if heading.strip().endswith(("?", "？")) and _usable(heading.strip()):
            question = " ".join(heading.split())  # a FAQ heading is a question already
        elif topic and _usable(topic) and low not in nlow:
            question = f"What does {name} say about {_topic(topic)}?"
        else:
            question = f"What is {name} about?"
        options = per_file.setdefault(file, [])
        if question not in options:
            options.append(question)
    # Prefer a heading question over "what is it about" for each file, then round-robin.
    for options in per_file.values():
        options.sort(key=lambda q: q.startswith("What is "))
    out: list[str] = []
    depth = 0
    while len(out) < n and any(len(o) > depth for o in per_file.values()):
        for options in per_file.values():
            if len(options) > depth and options[depth] not in out:
                out.append(options[depth])
                if len(out) == n:
                    break
        depth += 1
    return out
