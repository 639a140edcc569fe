"""Spotting degenerate repetition while text streams.

Small models sometimes fall into a loop ("the policy says the policy says …" or
the same sentence over and over). The guard looks at the most recent words (CJK
characters count as words, since Chinese has no spaces) and measures the share
of word n-grams in that window that already occurred earlier in it. Normal
prose repeats few 4-grams; a loop repeats nearly all of them.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from models.cjk import CJK as _CJK
from models.cjk import CJK_CHARS as _CJK_CHARS

# A CJK character is a word of its own; other words are runs of letters and digits.
_WORD = re.compile(f"[{_CJK_CHARS}]|[^\\W{_CJK_CHARS}_]+|[^\\w\\s]")


@dataclass
class RepetitionGuard:
    """Feed it text pieces; ``looping`` turns true once the recent window is mostly repeats.

    ``window`` words are examined once at least ``min_words`` have been seen; the
    guard fires when the share of repeated ``n``-grams reaches ``threshold``.
    """

    n: int = 4
    window: int = 120
    min_words: int = 48
    threshold: float = 0.6
    _words: list[str] = field(default_factory=list)
    _tail: str = ""
    looping: bool = False

    def feed(self, piece: str) -> bool:
        """Add streamed text; True when the text is looping."""
        if self.looping:
            return True
        text = self._tail + piece
        # The last word may continue in the next piece: hold it back.
        cut = len(text)
        while cut > 0 and text[cut - 1].isalnum() and not _CJK.match(text[cut - 1]):
            cut -= 1
        if cut == 0:
            self._tail = text
            return False
        self._tail = text[cut:]
        self._words.extend(_WORD.findall(text[:cut].lower()))
        if len(self._words) > 4 * self.window:
            del self._words[:-self.window]
        if len(self._words) >= self.min_words and self.repeated_share() >= self.threshold:
            self.looping = True
        return self.looping

    def repeated_share(self) -> float:
        """Share of the window's n-grams that occur more than once in it."""
        words = self._words[-self.window:]
        grams = [tuple(words[i:i + self.n]) for i in range(len(words) - self.n + 1)]
        if not grams:
            return 0.0
        counts = Counter(grams)
        repeated = sum(c - 1 for c in counts.values() if c > 1)
        return repeated / len(grams)


def is_looping(text: str, **kwargs: int | float) -> bool:
    """Whether a whole text ends in a loop, by the same measure as the streaming guard."""
    guard = RepetitionGuard(**kwargs)  # type: ignore[arg-type]
    guard.feed(text + " ")
    return guard.looping
