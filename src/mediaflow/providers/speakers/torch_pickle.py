"""Read the tensors of a legacy (non-zip) PyTorch checkpoint without PyTorch.

A legacy ``torch.save`` file is four pickles in a row (magic number, protocol
version, system info, the object) followed by the storages' raw bytes: the list of
storage keys as a fifth pickle, then per storage an int64 element count and the
little-endian data. The object pickle refers to storages by persistent id and builds
tensors with ``torch._utils._rebuild_tensor_v2``; here both become NumPy arrays.
Only the few globals a state dict needs are allowed (``find_class`` refuses the
rest), so a checkpoint cannot run code while it is read.
"""

from __future__ import annotations

import collections
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["load_state_dict"]

MAGIC = 0x1950A86A20F9469CFC6C
_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ByteStorage": np.uint8,
}


@dataclass
class _Storage:
    dtype: Any
    size: int
    data: np.ndarray | None = None


@dataclass
class _LazyTensor:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def array(self) -> np.ndarray:
        assert self.storage.data is not None
        item = self.storage.data.itemsize
        return np.lib.stride_tricks.as_strided(
            self.storage.data[self.offset :],
            shape=self.shape,
            strides=tuple(s * item for s in self.stride),
        ).copy()


def _rebuild_tensor_v2(
    storage: _Storage, offset: int, shape: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> _LazyTensor:
    return _LazyTensor(storage, offset, tuple(shape), tuple(stride))


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], storages: dict[str, _Storage]) -> None:
        super().__init__(file, encoding="utf-8")
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _DTYPES:
            return name
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a checkpoint")

    def persistent_load(self, pid: Any) -> _Storage:
        _, storage_type, key, _location, size, *_ = pid
        if key not in self.storages:
            self.storages[key] = _Storage(_DTYPES[storage_type], int(size))
        return self.storages[key]


def load_state_dict(path: Path) -> dict[str, Any]:
    """The checkpoint's top-level dict with every tensor as a NumPy array."""
    storages: dict[str, _Storage] = {}
    with path.open("rb") as file:
        if pickle.load(file) != MAGIC:
            raise ValueError(f"{path.name} is not a legacy PyTorch checkpoint")
        pickle.load(file)
        pickle.load(file)
        result = _Unpickler(file, storages).load()
        keys = _Unpickler(file, storages).load()
        for key in keys:
            storage = storages[key]
            (count,) = struct.unpack("<q", file.read(8))
            raw = file.read(count * np.dtype(storage.dtype).itemsize)
            storage.data = np.frombuffer(raw, dtype=storage.dtype)
    loaded: dict[str, Any] = _materialise(result)
    return loaded


def _materialise(value: Any) -> Any:
    if isinstance(value, _LazyTensor):
        return value.array()
    if isinstance(value, dict):
        return {k: _materialise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_materialise(v) for v in value)
    return value
