"""The vector index registry and protocol: FAISS is one implementation, and an index keeps
each vector space (the main model's, the multilingual model's) apart."""

from __future__ import annotations

import numpy as np
import pytest

from rag import vectors
from rag.vectors.base import VectorIndex

DIM = 8


def unit(n: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_the_registry_names_its_implementations_and_refuses_others(tmp_path) -> None:
    assert vectors.DEFAULT in vectors.names()
    with pytest.raises(ValueError, match=r"unknown vector index 'milvus'; choose one of faiss"):
        vectors.open_index("milvus", tmp_path, DIM, "uid")


def test_each_space_is_searched_and_saved_apart(tmp_path) -> None:
    main = vectors.open_index(vectors.DEFAULT, tmp_path, DIM, "u1")
    ml = vectors.open_index(vectors.DEFAULT, tmp_path, DIM, "u1", vectors.MULTILINGUAL)
    assert isinstance(main, VectorIndex) and isinstance(ml, VectorIndex)
    assert (main.space, ml.space) == (vectors.MAIN, vectors.MULTILINGUAL)
    a, b = unit(2, seed=1), unit(1, seed=2)
    main.add(np.array([1, 2], dtype=np.int64), a)
    ml.add(np.array([7], dtype=np.int64), b)
    assert [i for i, _ in ml.search(a[0], 5)] == [7]
    assert main.save("u1", 3) and ml.save("u1", 5)
    assert not ml.save("u1", 4)  # never an older copy over a newer one

    again = vectors.open_index(vectors.DEFAULT, tmp_path, DIM, "u1")
    again_ml = vectors.open_index(vectors.DEFAULT, tmp_path, DIM, "u1", vectors.MULTILINGUAL)
    assert sorted(again.ids().tolist()) == [1, 2] and again_ml.ids().tolist() == [7]
    assert (again.generation, again_ml.generation) == (3, 5)
    assert again_ml.search(b[0], 1) == [(7, pytest.approx(1.0, abs=1e-5))]
    # A copy saved for another catalog is never used for this one.
    other = vectors.open_index(vectors.DEFAULT, tmp_path, DIM, "u2", vectors.MULTILINGUAL)
    assert len(other) == 0 and other.generation == -1
