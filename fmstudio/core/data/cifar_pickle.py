"""Reading a CIFAR-10 python batch (a pickle) without trusting it.

A plain unpickler runs whatever code a file names. Allowing only numpy's array rebuilders is not
enough either: `numpy.ndarray((1_900_000, 3072))` from a 100-byte file allocates 5.7 GB of
uninitialised memory, `_reconstruct` takes any shape, a memo index of 2**28 makes CPython's
unpickler allocate and clear a 2 GiB memo table, and a byte count in an opcode is allocated
before it is read. So:

* the opcodes are first walked (`pickletools.genops`, which reads no claimed length it cannot
  see): their number is capped (`MAX_PICKLE_OPCODES`, which bounds how many objects the load can
  build), claimed lengths must fit in the file, memo indices must be ones a pickler would use;
* the only globals are stand-ins for numpy's: an array can only be built from bytes the file
  holds (`_reconstruct` of an empty array, then `__setstate__` with raw bytes whose length must
  match the shape, or protocol 5's `_frombuffer`), of a plain numeric dtype; `numpy.ndarray`
  itself cannot be called. Both numpy 1.x (`numpy.core`) and 2.x (`numpy._core`) names work.

Every refusal is a DatasetError without a path; the caller names the file.
"""

from __future__ import annotations

import io
import math
import pickle
import pickletools
from collections.abc import Callable
from typing import Any

import numpy as np

from fmstudio.core.data.errors import DatasetError
from fmstudio.core.data.limits import MAX_PICKLE_OPCODES

_MEMO_PUTS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_MAX_DIMS = 32  # numpy's own limit on array dimensions


def unpickle_batch(data: bytes) -> Any:
    """The object a batch pickle holds, its arrays real ndarrays built from the file's bytes."""
    _scan(data)
    try:
        loaded = _SafeUnpickler(io.BytesIO(data), encoding="bytes").load()
    except DatasetError:
        raise
    except Exception as exc:  # a malformed pickle can raise almost anything
        raise DatasetError(f"not a CIFAR-10 batch ({type(exc).__name__}: {exc})") from exc
    if isinstance(loaded, dict):
        return {key: _unwrap(value) for key, value in loaded.items()}
    return _unwrap(loaded)


def _scan(data: bytes) -> None:
    """Refuse before unpickling what would make the unpickler itself allocate too much."""
    try:
        for count, (opcode, arg, _) in enumerate(pickletools.genops(data)):
            if count >= MAX_PICKLE_OPCODES:
                raise DatasetError(
                    f"more than {MAX_PICKLE_OPCODES} pickle opcodes; a real CIFAR-10 batch has "
                    "under 100000"
                )
            if opcode.name in _MEMO_PUTS and arg > count:
                raise DatasetError(
                    f"refused to load: memo index {arg} at opcode {count} (a pickler numbers its "
                    "memo from 0, one entry per object)"
                )
            if opcode.name == "FRAME" and arg > len(data):
                raise DatasetError(
                    f"refused to load: a {arg}-byte frame in a {len(data)}-byte file"
                )
    except DatasetError:
        raise
    except Exception as exc:  # genops: unknown opcode, a length past the end, bad text
        raise DatasetError(f"not a CIFAR-10 batch ({type(exc).__name__}: {exc})") from exc


# ---------------------------------------------------------------------------------------------
# Stand-ins for the globals a numpy array pickle names


class _NdarrayName:
    """What `numpy.ndarray` means in a batch: the subtype `_reconstruct` is given; calling it
    (`ndarray(shape)`) would allocate memory that the file does not hold."""

    __slots__ = ()  # nothing a pickle's BUILD could set

    def __call__(self, *args: object, **kwargs: object) -> None:
        raise DatasetError(
            "refused to load: the pickle calls numpy.ndarray, which allocates memory the file "
            "does not hold"
        )


_NDARRAY = _NdarrayName()


class _PickledArray:
    """What `_reconstruct` returns: a placeholder that BUILD fills from the file's own bytes
    (`__setstate__`), as numpy's pickles of arrays do for protocols 0 to 4."""

    array: np.ndarray | None = None

    def __setstate__(self, state: object) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise DatasetError("refused to load: an array state that numpy never writes")
        shape, dtype, fortran, raw = state[-4:]
        self.array = _array_from_bytes(raw, dtype, shape, "F" if fortran else "C")


def _unwrap(value: object) -> object:
    return value.array if isinstance(value, _PickledArray) else value


def _reconstruct(subtype: object, shape: object, typecode: object) -> _PickledArray:
    """numpy's `_reconstruct`, for the empty array its pickles start from and nothing else."""
    if subtype is not _NDARRAY or shape != (0,) or typecode not in (b"b", "b"):
        raise DatasetError(
            f"refused to load: numpy _reconstruct of shape {_short(shape)} (a pickled array "
            "starts empty and is filled from the file's bytes)"
        )
    return _PickledArray()


def _frombuffer(buffer: object, dtype: object, shape: object, order: object) -> np.ndarray:
    """numpy's `_frombuffer` (protocol 5, in-band): an array over bytes the file holds."""
    if order not in ("C", "F"):
        raise DatasetError(f"refused to load: array order {_short(order)}")
    return _array_from_bytes(buffer, dtype, shape, order)


def _scalar(dtype: object, raw: object) -> np.generic:
    """numpy's `scalar`: one number from its bytes (numpy integers in a labels list)."""
    return _array_from_bytes(raw, dtype, (), "C")[()]


def _pickled_dtype(code: object, align: object = False, copy: object = True) -> np.dtype:
    """`numpy.dtype(code)` for a plain number type only; always a fresh copy, so the BUILD that
    follows cannot change numpy's shared dtype objects. Python 2 pickles (the real CIFAR-10
    files) spell the code as bytes once loaded with ``encoding="bytes"``."""
    if isinstance(code, bytes) and code.isascii() and len(code) <= 8:
        code = code.decode("ascii")
    if not isinstance(code, str):
        raise DatasetError(f"refused to load: dtype {_short(code)}")
    fresh = np.dtype(code, align=False, copy=True)
    _plain_dtype(fresh)
    return fresh


def _plain_dtype(dtype: object) -> np.dtype:
    """A clean dtype of integers or floats of at most 8 bytes, or a refusal."""
    if (
        not isinstance(dtype, np.dtype)
        or dtype.kind not in "iuf"
        or dtype.itemsize > 8
        or dtype.fields is not None
        or dtype.subdtype is not None
    ):
        raise DatasetError(
            f"refused to load: an array of {_short(dtype)} values; a CIFAR-10 batch holds numbers"
        )
    return np.dtype(dtype.str)  # rebuilt from kind, size and byte order: no state survives


def _array_from_bytes(raw: object, dtype: object, shape: object, order: str) -> np.ndarray:
    """An array over `raw`, whose length must be exactly what `shape` and `dtype` need."""
    plain = _plain_dtype(dtype)
    if (
        not isinstance(shape, tuple)
        or len(shape) > _MAX_DIMS
        or not all(type(n) is int and n >= 0 for n in shape)
    ):
        raise DatasetError(f"refused to load: array shape {_short(shape)}")
    if not isinstance(raw, (bytes, bytearray)):
        raise DatasetError(f"refused to load: array data as a {type(raw).__name__}, not bytes")
    need = math.prod(shape) * plain.itemsize
    if len(raw) != need:
        raise DatasetError(
            f"an array of shape {_short(shape)} {plain} needs {need} bytes, the pickle holds "
            f"{len(raw)}"
        )
    return np.frombuffer(raw, dtype=plain).reshape(shape, order=order)


def _latin1_encode(text: object, encoding: object = "latin1") -> bytes:
    """How protocol-2 pickles written by Python 3 spell bytes (``_codecs.encode``); latin-1 only,
    so no other codec can be reached."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise DatasetError(f"refused to load: _codecs.encode with {_short(encoding)}")
    return text.encode("latin-1")


def _short(value: object) -> str:
    """A hostile object described in a few words: never the repr of a list (memo references
    make a tiny file hold a list of 10^9 items) or of a huge number."""
    if isinstance(value, (str, bytes, bytearray)):
        return repr(value[:40]) + ("..." if len(value) > 40 else "")
    if isinstance(value, np.dtype):
        return str(value)
    if type(value) is int and value.bit_length() <= 64:
        return repr(value)
    if (
        type(value) is tuple
        and len(value) <= _MAX_DIMS
        and all(type(n) is int and n.bit_length() <= 64 for n in value)
    ):
        return repr(value)
    return f"a {type(value).__name__}"


class _StandIn:
    """A global a pickle may name, calling `function`. Not the function itself: BUILD on a
    function sets its attributes (`__defaults__` too), so one file could change how the next
    is read; this object has no attribute a pickle can set."""

    __slots__ = ("_function",)

    def __init__(self, function: Callable[..., Any]) -> None:
        object.__setattr__(self, "_function", function)

    def __setattr__(self, name: str, value: object) -> None:
        raise DatasetError("refused to load: the pickle sets attributes of a global")

    def __call__(self, *args: object) -> Any:
        return self._function(*args)


_MULTIARRAY = ("numpy._core.multiarray", "numpy.core.multiarray")
_NUMERIC = ("numpy._core.numeric", "numpy.core.numeric")
_RECONSTRUCT, _SCALAR, _FROMBUFFER = map(_StandIn, (_reconstruct, _scalar, _frombuffer))
_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _StandIn(_pickled_dtype),
    ("_codecs", "encode"): _StandIn(_latin1_encode),
    **{(module, "_reconstruct"): _RECONSTRUCT for module in _MULTIARRAY},
    **{(module, "scalar"): _SCALAR for module in _MULTIARRAY},
    **{(module, "_frombuffer"): _FROMBUFFER for module in _NUMERIC},
}


class _SafeUnpickler(pickle.Unpickler):
    """Refuses every global but the stand-ins above: no os.system, no eval, no imports."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _GLOBALS[(module, name)]
        except KeyError:
            raise DatasetError(
                f"refused to load: the pickle asks for {module}.{name}, which a CIFAR-10 batch "
                "never needs"
            ) from None
