"""bench/accuracy.py's scoring: an answer counts when it states the gold fact, compared the
way a reader would (numbers by value, full-width forms, the annotator's remarks aside)."""

from __future__ import annotations

import importlib
import sys

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def accuracy():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        yield importlib.import_module("accuracy")
    finally:
        sys.path.remove(str(ROOT / "bench"))


@pytest.mark.parametrize(
    ("answer", "gold", "ok"),
    [
        (
            "The last glacial started around 74,000 years ago (BP).",
            "~74,000 (BP = Before Present)",
            True,
        ),
        ("It ended around 11,600 BP.", "~74,000 (BP = Before Present)", False),
        ("The per diem is EUR 75.00 [1].", "75", True),
        ("The per diem is EUR 755.", "75", False),
        ("境外每天补贴４００元。", "400", True),
        ("It is in the Combined Statistical Area.", "Metropolitan Statistical Areas", False),
    ],
)
def test_an_answer_holds_the_gold_when_it_states_the_fact(accuracy, answer, gold, ok):
    assert accuracy.holds(answer, [(gold,)]) is ok
