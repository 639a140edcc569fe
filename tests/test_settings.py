"""The one settings object: validation, persistence, and the CLI flags built from it."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from rag.cli import build_parser
from rag.settings import IndexSettings, ModelSettings, RetrievalSettings, Settings


def test_defaults_are_valid_and_round_trip(config_dir):
    s = Settings()
    s.save()
    assert Settings.load() == s
    saved = json.loads(Settings.path().read_text(encoding="utf-8"))
    assert saved["retrieval"]["k"] == s.retrieval.k
    assert saved["decoding"]["temperature"] == s.decoding.temperature


def test_changes_survive_a_restart(config_dir):
    s = Settings()
    s = replace(
        s,
        retrieval=replace(s.retrieval, k=9),
        ui=replace(s.ui, folder="/tmp/docs", preset="balanced"),
    )
    s.save()
    again = Settings.load()
    assert again.retrieval.k == 9
    assert again.ui.folder == "/tmp/docs"


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: RetrievalSettings(k=0), "k must be between 1 and 100"),
        (
            lambda: RetrievalSettings(relevance_floor=1.5),
            "relevance_floor must be between 0.0 and 1.0",
        ),
        (lambda: IndexSettings(chunk_tokens=100, chunk_overlap=100), "chunk_overlap (100) must be"),
        (lambda: ModelSettings(gpu_layers=-2), "gpu_layers must be between -1"),
        (lambda: RetrievalSettings(k="five"), "k must be a number"),
    ],
)
def test_invalid_values_are_rejected_with_their_range(make, words):
    with pytest.raises(ValueError) as err:
        make()
    assert words in str(err.value)


def test_a_bad_saved_value_falls_back_to_its_default_only(config_dir):
    config_dir.mkdir(parents=True)
    Settings.path().write_text(
        json.dumps(
            {
                "retrieval": {"k": 500, "relevance_floor": 0.2},
                "model": {"gpu_layers": 0, "unknown_key": 1},
            }
        ),
        encoding="utf-8",
    )
    s = Settings.load()
    assert s.retrieval.k == RetrievalSettings().k  # out of range: default
    assert s.retrieval.relevance_floor == 0.2  # valid: kept
    assert s.model.gpu_layers == 0


def test_corrupt_settings_file_does_not_stop_the_app(config_dir):
    config_dir.mkdir(parents=True)
    Settings.path().write_text("{not json", encoding="utf-8")
    assert Settings.load() == Settings()


def test_cli_flags_come_from_the_settings_and_are_validated():
    parser = build_parser()
    ns = parser.parse_args(
        [
            "--docs",
            "x",
            "--search",
            "q",
            "--k",
            "7",
            "--temperature",
            "0.5",
            "--gpu-layers",
            "0",
            "--stop",
            "END",
            "--stop",
            "###",
        ]
    )
    s = Settings().with_args(ns)
    assert s.retrieval.k == 7
    assert s.decoding.temperature == 0.5
    assert s.model.gpu_layers == 0
    assert list(s.decoding.stop) == ["END", "###"]
    with pytest.raises(ValueError, match="temperature"):
        Settings().with_args(parser.parse_args(["--temperature", "-1"]))


def test_preset_flag_then_individual_flags_override_it():
    from models.decoding import preset

    parser = build_parser()
    s = Settings().with_args(parser.parse_args(["--preset", "creative", "--top-p", "0.5"]))
    assert s.decoding.temperature == preset("creative").temperature
    assert s.decoding.top_p == 0.5
