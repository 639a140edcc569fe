"""The embedder: the bundled model, offline, normalized, and identical to sentence-transformers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.embeddings import Embedder, EmbeddingModelError, resolve_model_path

TEXTS = [
    "Employees book economy class for flights under six hours.",
    "Northwind's travel budget for 2023 was $1,200 per person.",
    "北京是中国的首都。",
    "",
]


def test_importing_does_not_load_torch() -> None:
    code = ("import sys, rag.embeddings; e = rag.embeddings.Embedder(); e.model_id; "
            "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.split() == ["False", "False"]


def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingModelError, match="does not exist"):
        Embedder(str(tmp_path / "nowhere"))


def test_a_folder_that_is_not_a_model_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(EmbeddingModelError, match="not a sentence-transformers model"):
        Embedder(str(tmp_path))


@pytest.mark.slow
def test_a_broken_model_folder_fails_on_load_with_the_folder_named(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{ this is not json")
    e = Embedder(str(tmp_path))
    with pytest.raises(EmbeddingModelError, match=str(tmp_path)):
        e.embed(["x"])


def test_model_id_names_the_model_and_changes_with_its_configuration(tmp_path: Path) -> None:
    default = resolve_model_path("default")
    copy = tmp_path / "my-model"
    copy.mkdir()
    for f in default.iterdir():
        (copy / f.name).symlink_to(f)
    assert Embedder().model_id.startswith("all-MiniLM-L6-v2@")
    assert Embedder().model_id == Embedder().model_id
    same = Embedder(str(copy)).model_id
    assert same.startswith("my-model@") and same.split("@")[1] == Embedder().model_id.split("@")[1]
    (copy / "config.json").unlink()
    config = json.loads((default / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "hidden_dropout_prob": 0.5}))
    assert Embedder(str(copy)).model_id.split("@")[1] != same.split("@")[1]


@pytest.mark.slow
def test_offline_mode_is_set_when_loading(embedder: Embedder) -> None:
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"


@pytest.fixture(scope="session")
def float_embedder() -> Embedder:
    """sentence-transformers itself, in float: the reference the int8 runtime is held to."""
    return Embedder("default", runtime="torch")


@pytest.mark.slow
def test_vectors_are_normalized_float32_and_match_sentence_transformers(
    float_embedder: Embedder,
) -> None:
    embedder = float_embedder
    vecs = embedder.embed(TEXTS)
    assert vecs.dtype == np.float32
    assert vecs.shape == (len(TEXTS), 384) == (len(TEXTS), embedder.dim)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    direct = embedder.model.encode(TEXTS, normalize_embeddings=True)
    np.testing.assert_allclose(vecs, direct, atol=1e-5)
    np.testing.assert_allclose(embedder.embed_query(TEXTS[1]), vecs[1], atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)


@pytest.mark.slow
def test_similar_meaning_is_closer(embedder: Embedder) -> None:
    q = embedder.embed_query("How much money may staff spend on travel?")
    d = embedder.embed(TEXTS[:2] + ["The cafeteria serves soup on Fridays."])
    assert d[1] @ q > d[2] @ q


@pytest.mark.slow
def test_token_counts_use_the_model_tokenizer_without_a_cap(embedder: Embedder) -> None:
    assert embedder.max_tokens == 256
    text = TEXTS[1]
    assert embedder.count_tokens(text) == len(
        embedder.tokenizer(text, add_special_tokens=False)["input_ids"])
    assert embedder.count_tokens("word " * 1000) == 1000  # beyond the window: counted, not cut
    assert embedder.count_tokens("") == 0


def test_the_bundled_model_runs_int8_on_a_cpu_and_says_so_in_its_id() -> None:
    e = Embedder()
    assert e.runtime == "onnx" and e.device == "cpu"
    assert e.model_id.endswith("+onnx-int8")
    assert Embedder(runtime="torch").model_id == e.model_id.removesuffix("+onnx-int8")
    assert e.dim == 384 and e.max_tokens == 256  # read from the folder, no model loaded


def test_an_unknown_runtime_is_refused() -> None:
    with pytest.raises(ValueError, match="runtime must be one of auto, onnx, torch"):
        Embedder(runtime="tensorrt")


PASSAGES = [
    "Net sales increased 8% to $94.8 billion in the third quarter compared with last year.",
    "Operating expenses were $14.3 billion, driven by research and development.",
    "The Company repurchased 150 million shares for $22 billion during the period.",
    "Employees book economy class for flights under six hours; business class above.",
    "The cafeteria serves soup on Fridays and closes at three in the afternoon.",
    "Victoria is the capital of British Columbia and lies on Vancouver Island.",
    "The Normans were descended from Norse raiders who settled in northern France.",
    "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen.",
]
QUESTIONS = [
    "How much did net sales grow in the quarter?",
    "How many shares were bought back?",
    "When may staff fly business class?",
    "Where did the Normans come from?",
]


@pytest.mark.slow
def test_int8_vectors_agree_with_the_float_model(embedder: Embedder, float_embedder: Embedder):
    """The int8 export must give the float model's vectors (per-channel int8 measured about
    0.99 cosine; per-tensor int8 of every op was 0.95, enough to reorder results) and the
    same nearest passage for each question."""
    assert embedder.runtime == "onnx"
    texts = PASSAGES + QUESTIONS + TEXTS[:3] + ["word " * 400]  # the last is cut at 256 tokens
    fast, exact = embedder.embed(texts), float_embedder.embed(texts)
    assert fast.dtype == np.float32 and fast.shape == exact.shape
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(fast * exact, axis=1)
    assert cosines.min() > 0.97 and cosines.mean() > 0.985, cosines
    p_fast, q_fast = embedder.embed(PASSAGES), embedder.embed(QUESTIONS)
    p_exact, q_exact = float_embedder.embed(PASSAGES), float_embedder.embed(QUESTIONS)
    assert list((q_fast @ p_fast.T).argmax(1)) == list((q_exact @ p_exact.T).argmax(1))
    # the order of a batch does not change a vector
    np.testing.assert_allclose(embedder.embed(texts[::-1])[::-1], fast, atol=1e-5)


@pytest.mark.slow
def test_int8_sessions_side_by_side_give_the_vectors_of_one(embedder: Embedder) -> None:
    """Batches run on several sessions at once (one per core) and from several callers at
    once (a question while a folder is embedded); which session ran a batch, and what
    else ran beside it, must not change a vector."""
    from concurrent.futures import ThreadPoolExecutor

    assert embedder.runtime == "onnx"
    notes = [f"Invoice {i} was paid in {i % 12 + 1} days." for i in range(40)]
    texts = PASSAGES + QUESTIONS + TEXTS[:3] + notes
    one_lane = embedder.embed(texts, workers=1)
    np.testing.assert_allclose(embedder.embed(texts), one_lane, atol=1e-6)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: embedder.embed(texts), range(4)))
        single = list(pool.map(lambda t: embedder.embed([t])[0], QUESTIONS))
    for got in results:
        np.testing.assert_allclose(got, one_lane, atol=1e-6)
    alone = [embedder.embed([q], workers=1)[0] for q in QUESTIONS]
    np.testing.assert_allclose(np.stack(single), np.stack(alone), atol=1e-6)


def test_sessions_are_one_per_core_up_to_a_few_then_threads_each() -> None:
    from rag.onnx_embed import MAX_SESSIONS, _layout

    assert _layout(1) == (1, 1) and _layout(2) == (2, 1)
    assert _layout(MAX_SESSIONS * 4) == (MAX_SESSIONS, 4)
    assert _layout(MAX_SESSIONS + 1) == (MAX_SESSIONS, 1)


@pytest.mark.slow
def test_the_export_is_made_once_and_kept_in_the_cache(embedder: Embedder) -> None:
    from rag import onnx_embed, paths

    embedder.embed(["warm"])
    made = onnx_embed.export_dir(embedder.path) / onnx_embed.MODEL_FILE
    assert made.is_file() and paths.cache_dir() in made.parents
    assert onnx_embed.RECIPE in made.parent.name and "ort" in made.parent.name
    before = made.stat().st_mtime_ns
    Embedder().embed(["again"])
    assert made.stat().st_mtime_ns == before


def test_a_cpu_only_torch_is_recognised_without_importing_it() -> None:
    code = (
        "import sys, rag.embeddings as e; d = e.torch_device(); "
        "print(d, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    import torch

    if torch.version.cuda is None and torch.version.hip is None and sys.platform != "darwin":
        assert out.stdout.split() == ["cpu", "False"]
    else:  # a GPU build: torch is asked, and its answer is taken
        assert out.stdout.split()[0] in ("cpu", "cuda", "mps")


def test_int8_batches_hold_many_short_passages_or_few_long_ones() -> None:
    """Batches are cut by padded tokens as well as by count: one-line notes go many at a
    time, full-window passages a few, and a text longer than the budget goes alone."""
    from rag.onnx_embed import BATCH_TOKENS, _batches

    lengths = [BATCH_TOKENS + 5, 256, 256, *([250] * 40), *([20] * 300)]
    order = np.arange(len(lengths))
    batches = _batches(lengths, order, 1024)
    assert np.array_equal(np.concatenate(batches), order)
    assert [len(b) for b in batches[:2]] == [1, BATCH_TOKENS // 256]
    for b in batches:
        assert len(b) == 1 or lengths[b[0]] * len(b) <= BATCH_TOKENS
    assert max(len(b) for b in batches) == BATCH_TOKENS // 20
    assert max(len(b) for b in _batches(lengths, order, 4)) == 4
