"""Which characters are CJK: the one definition of the range in Quarry.

Chinese and Japanese are written without spaces, so several rules treat each of
these characters as a word of its own: the repetition guard, the token estimate
of the server backend, and (through :mod:`rag.text`, the home of the other text
rules) the lexical index, the chunker and the support check. The range lives
here, in the model layer, because ``models`` must never import ``rag`` while
``rag`` already builds on ``models``; :mod:`rag.text` re-exports it, so the core
keeps asking its own text module and there is still one range to change (a
change alters what the lexical index holds: bump ``rag.lexical.VERSION``).
"""

from __future__ import annotations

import re

# Chinese ideographs: the unified block, extension A and the compatibility ideographs.
HAN_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Han and Japanese kana: text written without spaces between words.
CJK_CHARS = "\u3040-\u30ff" + HAN_CHARS
# Korean syllables are written with spaces, so they form words like Latin letters do; only
# the token estimate counts them apart (byte-level vocabularies spend tokens on them as on Han).
HANGUL_CHARS = "\uac00-\ud7af"

CJK = re.compile(f"[{CJK_CHARS}]")
HAN = re.compile(f"[{HAN_CHARS}]")

__all__ = ["CJK", "CJK_CHARS", "HAN", "HAN_CHARS", "HANGUL_CHARS"]
