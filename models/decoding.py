"""Decoding parameters: one validated, self-describing object and its named presets.

Every field is declared with :func:`models.options.option`, so the same
declaration gives the CLI flag, the GUI control and tooltip, validation and
persistence. Values follow llama.cpp's meanings (0 or 1.0 usually means "off").
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from models.options import option, validate


@dataclass(frozen=True)
class DecodingParams:
    temperature: float = option(
        0.1, "Randomness of word choice: 0 always picks the likeliest token, higher varies more.",
        min=0.0, max=5.0)
    top_k: int = option(
        40, "Sample only from the k likeliest tokens (0 = no limit).", min=0, max=1000,
        flag="top-k")
    top_p: float = option(
        0.9, "Sample only from the likeliest tokens whose probabilities add up to this share.",
        min=0.0, max=1.0, flag="top-p")
    min_p: float = option(
        0.05, "Drop tokens less likely than this fraction of the likeliest one (0 = off).",
        min=0.0, max=1.0, flag="min-p")
    typical_p: float = option(
        1.0, "Keep tokens whose surprise is close to the expected surprise (1.0 = off).",
        min=0.0, max=1.0, flag="typical-p")
    repeat_penalty: float = option(
        1.1, "Make recently used tokens less likely (1.0 = off, higher repeats less).",
        min=0.0, max=3.0, flag="repeat-penalty")
    repeat_last_n: int = option(
        64, "How many recent tokens the repeat penalty looks back over.", min=0, max=4096,
        flag="repeat-last-n")
    presence_penalty: float = option(
        0.0, "Penalise any token that already appeared, to move on to new words.",
        min=-2.0, max=2.0, flag="presence-penalty")
    frequency_penalty: float = option(
        0.0, "Penalise tokens in proportion to how often they already appeared.",
        min=-2.0, max=2.0, flag="frequency-penalty")
    mirostat_mode: int = option(
        0, "Mirostat keeps the text's surprise steady instead of top-k/top-p (0 off, 1 or 2).",
        choices=(0, 1, 2), flag="mirostat-mode")
    mirostat_tau: float = option(
        5.0, "Mirostat's target surprise: lower is more focused, higher more varied.",
        min=0.0, max=20.0, flag="mirostat-tau")
    mirostat_eta: float = option(
        0.1, "How quickly mirostat adapts towards its target surprise.", min=0.0, max=1.0,
        flag="mirostat-eta")
    seed: int = option(
        -1, "Random seed for sampling, to make a run repeatable (-1 = a new seed each time).",
        min=-1, max=2**32 - 1)
    max_tokens: int = option(
        512, "The longest answer, in tokens.", min=1, max=32768, flag="max-tokens")
    stop: list[str] = option(
        help="Text that ends the answer when the model writes it (repeat the flag for more).",
        default_factory=list)
    no_repeat_ngram_size: int = option(
        0, "Forbid repeating any run of this many tokens verbatim (0 = off).", min=0, max=64,
        flag="no-repeat-ngram")

    def __post_init__(self) -> None:
        validate(self)
        stop = self.stop
        if isinstance(stop, str):
            stop = [stop]
        if not isinstance(stop, list | tuple) or not all(isinstance(s, str) for s in stop):
            raise ValueError(f"stop must be a list of texts; got {self.stop!r}")
        if any(s == "" for s in stop):
            raise ValueError("stop must not contain an empty text")
        object.__setattr__(self, "stop", list(stop))

    def with_changes(self, **changes: object) -> DecodingParams:
        """A copy with some values changed, validated like a new object."""
        return replace(self, **changes)


PRESETS: dict[str, DecodingParams] = {
    # Document Q&A (the defaults): stay close to the sources; mild penalty against loops.
    "precise": DecodingParams(),
    "balanced": DecodingParams(temperature=0.6, top_k=40, top_p=0.95, min_p=0.05,
                               repeat_penalty=1.1, repeat_last_n=64),
    "creative": DecodingParams(temperature=1.0, top_k=80, top_p=0.98, min_p=0.02,
                               repeat_penalty=1.05, repeat_last_n=128, presence_penalty=0.3),
}


def preset(name: str) -> DecodingParams:
    """The named preset; an unknown name lists the known ones."""
    try:
        return PRESETS[name.strip().lower()]
    except (KeyError, AttributeError):
        raise ValueError(f"Unknown decoding preset {name!r}; choose one of: "
                         f"{', '.join(PRESETS)}") from None

