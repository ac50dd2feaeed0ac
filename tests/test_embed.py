"""Offline sentence embeddings: the real all-MiniLM-L6-v2, run in numpy."""

from __future__ import annotations

import importlib.util
import socket
from typing import NoReturn

import numpy as np
import pytest

from pgarchitect.errors import CapabilityMissing
from pgarchitect.knowledge.embed import (
    DIMENSIONS,
    MAX_TOKENS,
    Embedder,
    default_embedder,
    model_dir,
)


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return default_embedder()


def _cos(embedder: Embedder, a: str, b: str) -> float:
    first, second = embedder.embed([a, b])
    return float(first.vector @ second.vector)


def test_loads_and_embeds_without_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> NoReturn:
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    fresh = Embedder()  # not the cached one: the load itself runs under the block
    result = fresh.embed_one("SELECT * FROM users WHERE email = $1")
    assert result.vector.shape == (DIMENSIONS,)


def test_shape_dtype_and_unit_norm(embedder: Embedder) -> None:
    results = embedder.embed(["a", "", "Seq Scan on \"Enrollment\" filter status = 'active'"])
    assert len(results) == 3
    for result in results:
        assert result.vector.shape == (DIMENSIONS,)
        assert result.vector.dtype == np.float32
        assert abs(float(np.linalg.norm(result.vector)) - 1) < 1e-5
        assert not result.truncated
    assert results[1].tokens == 2  # [CLS] and [SEP] only


def test_deterministic_and_independent_of_the_batch(embedder: Embedder) -> None:
    text = "UPDATE \"Enrollment\" SET progress = $1 WHERE id = $2"
    alone = embedder.embed_one(text).vector
    assert np.array_equal(alone, embedder.embed_one(text).vector)
    longer = [f"SELECT {', '.join(f'c{i}' for i in range(n))} FROM t WHERE x = {n}"
              for n in (20, 40, 60)]
    batched = embedder.embed([longer[0], text, *longer[1:]])
    assert np.abs(batched[1].vector - alone).max() < 1e-5


def test_paraphrases_are_closer_than_unrelated_texts(embedder: Embedder) -> None:
    same = _cos(embedder, "SELECT * FROM users WHERE email = $1",
                "select * from users u where u.email = $1")
    unrelated = _cos(embedder, "SELECT * FROM users WHERE email = $1",
                     "The weather is lovely today.")
    assert same > 0.9
    assert same > unrelated + 0.3


def test_reference_similarities(embedder: Embedder) -> None:
    # sentence-transformers' published numbers for this model, to 4 places.
    assert _cos(embedder, "The weather is lovely today.", "It's so sunny outside!") == (
        pytest.approx(0.6660, abs=2e-4))
    assert _cos(embedder, "A man is eating pasta.", "A man is riding a horse.") == (
        pytest.approx(0.1889, abs=2e-4))


def test_long_text_is_truncated(embedder: Embedder) -> None:
    text = " ".join(f"column_{i} = ${i}" for i in range(200))
    result = embedder.embed_one(text)
    assert result.truncated
    assert result.tokens > MAX_TOKENS
    assert abs(float(np.linalg.norm(result.vector)) - 1) < 1e-5
    # Everything past the cut is ignored.
    assert np.abs(embedder.embed_one(text + " trailing words").vector - result.vector).max() < 1e-5


def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(CapabilityMissing, match="--no-deps"):
        model_dir()
