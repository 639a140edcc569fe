"""The window's engine and its test fake keep one contract (STYLE.md 13)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from rag.engine import Engine
from rag.engine_api import STOP_REASONS, EngineAPI
from rag.settings import Settings
from tests.fake_engine import FakeEngine, Passage


def _members() -> list[str]:
    names = set(EngineAPI.__dict__) | set(EngineAPI.__annotations__)
    return sorted(n for n in names if not n.startswith("_"))


def _parameters(fn) -> list[tuple[str, object, object]]:
    sig = inspect.signature(fn)
    return [(p.name, p.kind, p.default) for p in sig.parameters.values() if p.name != "self"]


@pytest.mark.parametrize("cls", [Engine, FakeEngine])
def test_engine_and_fake_satisfy_the_protocol(cls):
    engine = cls(Settings())
    try:
        assert isinstance(engine, EngineAPI)
        for name in _members():
            assert hasattr(engine, name), f"{cls.__name__} lacks {name}"
            wanted = EngineAPI.__dict__.get(name)
            if wanted is None or not callable(wanted) or isinstance(wanted, property):
                continue
            got = getattr(cls, name)
            assert _parameters(got) == _parameters(wanted), (
                f"{cls.__name__}.{name}{inspect.signature(got)} differs from "
                f"EngineAPI.{name}{inspect.signature(wanted)}"
            )
    finally:
        engine.close()


def test_the_protocol_names_every_method_the_window_calls():
    """Anything app/ calls on its engine must be in the protocol, or the fake may drift."""
    import ast

    root = Path(__file__).resolve().parent.parent / "app"
    called = set()
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "engine"
            ):
                called.add(node.attr)
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "engine"
            ):
                called.add(node.attr)
    assert called, "the window no longer calls its engine?"
    assert called <= set(_members()), sorted(called - set(_members()))


def test_the_fake_reports_the_engines_stop_reasons(tmp_path):
    (tmp_path / "a.txt").write_text("Travel is capped at 2,000 dollars.", encoding="utf-8")
    fake = FakeEngine(passages=[Passage("a.txt", None, "Travel is capped")], token_delay=0)
    fake.index(tmp_path)
    finished = fake.ask("What is the cap?")
    stopped = fake.ask("What is the cap?", should_stop=lambda: True)
    refused = fake.ask("What will the weather be?")
    reasons = [finished.stats.stop_reason, stopped.stats.stop_reason, refused.stats.stop_reason]
    assert reasons == ["finished", "cancelled", "refused"]
    assert set(reasons) <= STOP_REASONS
