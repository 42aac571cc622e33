"""resemblyzer's speaker encoder (GE2E, 3-layer LSTM, 256-d) in NumPy, without PyTorch.

``resemblyzer`` 0.1.4 (Apache-2.0) ships the weights (``pretrained.pt``, 17 MB) but
imports torch, librosa and webrtcvad; it is installed with ``--no-deps`` and never
imported: the checkpoint is read by ``torch_pickle`` and the network is run here.
The input is what resemblyzer feeds it: a power (not log) mel spectrogram, 40 bands,
25 ms Hann windows every 10 ms at 16 kHz (librosa's Slaney mel filters), in partial
utterances of 160 frames (1.6 s). An embedding is ReLU(linear(last hidden state of
the top layer)), L2-normalised: same voice about 0.95 cosine, another voice ~0.6.
"""

from __future__ import annotations

import importlib.util
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mediaflow.providers.speakers.torch_pickle import load_state_dict

__all__ = ["SAMPLE_RATE", "SpeakerEncoder", "load_encoder", "mel_frames", "weights_path"]

SAMPLE_RATE = 16_000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
PARTIAL_FRAMES = 160  # 1.6 s
LAYERS = 3
TARGET_DBFS = -30.0

Array = npt.NDArray[np.float32]


def weights_path() -> Path | None:
    """``pretrained.pt`` inside the installed resemblyzer package (never imported), or None."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    return path if path.is_file() else None


def _hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    # Slaney: linear below 1 kHz, logarithmic above (librosa's default, htk=False)
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, np.log(6.4) / 27.0
    mels = hz / f_sp
    high = hz >= min_log_hz
    mels[high] = min_log_hz / f_sp + np.log(hz[high] / min_log_hz) / logstep
    return mels


def _mel_to_hz(mels: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, np.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    hz = f_sp * mels
    high = mels >= min_log_mel
    hz[high] = min_log_hz * np.exp(logstep * (mels[high] - min_log_mel))
    return hz


@lru_cache(maxsize=1)
def mel_filters() -> npt.NDArray[np.float64]:
    """librosa.filters.mel(sr=16000, n_fft=400, n_mels=40) (Slaney scale and norm)."""
    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    low, high = _hz_to_mel(np.array([0.0, SAMPLE_RATE / 2]))
    mel_points = np.linspace(float(low), float(high), N_MELS + 2)
    mel_f = _mel_to_hz(mel_points)
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : N_MELS + 2] - mel_f[:N_MELS]))[:, None]
    return weights


def mel_frames(wav: Array) -> Array:
    """Power mel spectrogram frames (T x 40) as librosa.feature.melspectrogram gives them."""
    padded = np.pad(wav.astype(np.float64), N_FFT // 2, mode="constant")
    count = 1 + (len(padded) - N_FFT) // HOP
    if count <= 0:
        return np.zeros((0, N_MELS), np.float32)
    index = np.arange(N_FFT)[None, :] + HOP * np.arange(count)[:, None]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic Hann
    power = np.abs(np.fft.rfft(padded[index] * window, axis=1)) ** 2
    frames: Array = (power @ mel_filters().T).astype(np.float32)
    return frames


def normalise_volume(wav: Array) -> Array:
    """Raise quiet audio to -30 dBFS (never lower it), as resemblyzer's preprocessing does."""
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)))) if wav.size else 0.0
    if rms <= 0:
        return wav
    change_db = TARGET_DBFS - 20 * np.log10(rms)
    return wav if change_db < 0 else (wav * 10 ** (change_db / 20)).astype(np.float32)


def _sigmoid(x: Array) -> Array:
    result: Array = 0.5 * (np.tanh(0.5 * x) + 1.0)  # overflow-free
    return result


class SpeakerEncoder:
    """The encoder's weights and its forward pass (thread-safe: no state between calls)."""

    def __init__(self, path: Path) -> None:
        state = load_state_dict(path)["model_state"]
        self.layers = [
            (
                state[f"lstm.weight_ih_l{i}"].T.copy(),
                state[f"lstm.weight_hh_l{i}"].T.copy(),
                (state[f"lstm.bias_ih_l{i}"] + state[f"lstm.bias_hh_l{i}"]).astype(np.float32),
            )
            for i in range(LAYERS)
        ]
        self.linear_w = state["linear.weight"].T.copy()
        self.linear_b = state["linear.bias"]

    def embed_partials(self, mels: Array) -> Array:
        """Embeddings (B x 256, unit length) of B partials of mel frames (B x T x 40)."""
        x = mels.astype(np.float32)
        batch, steps, _ = x.shape
        for w_ih, w_hh, bias in self.layers:
            hidden_size = w_hh.shape[0]
            gates_in = x @ w_ih + bias  # all time steps at once: B x T x 4H
            h = np.zeros((batch, hidden_size), np.float32)
            c = np.zeros((batch, hidden_size), np.float32)
            outputs = np.empty((batch, steps, hidden_size), np.float32)
            for t in range(steps):
                gates = gates_in[:, t] + h @ w_hh
                i, f, g, o = np.split(gates, 4, axis=1)  # PyTorch's gate order
                c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
                h = _sigmoid(o) * np.tanh(c)
                outputs[:, t] = h
            x = outputs
        raw = np.maximum(h @ self.linear_w + self.linear_b, 0.0)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        embeddings: Array = (raw / np.maximum(norms, 1e-12)).astype(np.float32)
        return embeddings

    def embed_windows(self, wav: Array, spans: list[tuple[int, int]], batch: int = 64) -> Array:
        """One embedding per (start, end) sample span: a 1.6 s partial from its start
        (zero-padded when shorter), batched."""
        length = (PARTIAL_FRAMES - 1) * HOP  # samples whose frames make one partial
        partials = []
        for start, end in spans:
            piece = normalise_volume(wav[start:end])[:length]
            piece = np.pad(piece, (0, length - len(piece)))
            partials.append(mel_frames(piece)[:PARTIAL_FRAMES])
        if not partials:
            return np.zeros((0, 256), np.float32)
        out: list[Array] = [
            self.embed_partials(np.stack(partials[i : i + batch]))
            for i in range(0, len(partials), batch)
        ]
        joined: Array = np.concatenate(out)
        return joined


_lock = threading.Lock()


@lru_cache(maxsize=1)
def _cached(path: Path) -> SpeakerEncoder:
    return SpeakerEncoder(path)


def load_encoder(path: Path) -> SpeakerEncoder:
    """The encoder of ``path``, read once per process."""
    with _lock:
        return _cached(path)
