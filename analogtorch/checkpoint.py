"""Checkpoints of models with analog layers: written atomically, checked when read, loaded whole or
not at all.

``torch.save(model.state_dict(), f)`` and ``model.load_state_dict(torch.load(f, weights_only=True))``
work as for any model (every ``AnalogLinear`` refuses a corrupted or mismatched state of its own
before copying anything). These two functions add what a long training run needs:

- :func:`save_checkpoint` writes to a temporary file beside the target, fsyncs it, renames it into
  place and fsyncs the directory, so that a crash mid-write leaves the previous checkpoint intact
  (temporary files left by a killed save are removed by the next save of the same path). It stores
  a SHA-256 of a canonical serialisation of everything saved: the state_dict and ``extra``.
- :func:`load_checkpoint` reads with ``weights_only=True``, checks the structure against bounds
  set by the file's size (nesting depth, number of values, tensor sizes, key and value types)
  before touching any tensor's bytes, verifies the digest (a flipped byte anywhere is refused, not
  trained on) and loads the model transactionally: if any module refuses its part, every module is
  restored to the state it had before the call.
"""

from __future__ import annotations

import copy
import errno
import hashlib
import os
import re
import secrets
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["load_checkpoint", "load_state_dict", "save_checkpoint"]

# 2: the digest covers a canonical serialisation of the state_dict and extra (1: state_dict only,
# non-tensor values through repr()).
_FORMAT = 2

_PAYLOAD_KEYS = ("analogtorch_checkpoint", "analogtorch_version", "state_dict", "extra", "sha256")

# Containers nested deeper than this are no model's or optimizer's state (those stay below 8).
_MAX_DEPTH = 32
# A checkpoint's values and tensor bytes are bounded by its file: each value takes at least one
# byte of the pickle, each tensor's storage its bytes in the archive. Shared references (tied
# weights) may count a value more than once: this factor and allowance leave room for them.
_SHARING_FACTOR = 8
_ALLOWANCE = 1 << 20
_INT_RANGE = (-(2**63), 2**64)  # what a tensor or a counter can hold


class _Refused(Exception):
    """A value that no checkpoint holds: the message names where it is."""


# ---------------------------------------------------------------------------------------------
# Structure: types, depth and sizes, checked without reading any tensor's bytes
# ---------------------------------------------------------------------------------------------


def _where(path: tuple[object, ...]) -> str:
    return "".join(f"[{key!r}]" for key in path) or "the payload"


def _key_order(key: object) -> tuple[int, object]:
    return (0, key) if isinstance(key, int) else (1, key)


class _Bounds:
    """The work a structure may cost: values visited and bytes to hash (None: unbounded)."""

    def __init__(self, file_bytes: int | None) -> None:
        self.limit = None if file_bytes is None else _SHARING_FACTOR * file_bytes + _ALLOWANCE
        self.file_bytes = file_bytes
        self.spent = 0

    def spend(self, amount: int, path: tuple[object, ...]) -> None:
        self.spent += amount
        if self.limit is not None and self.spent > self.limit:
            raise _Refused(
                f"{_where(path)}: the values and tensors reached cost more than {self.limit} units of work, "
                f"far more than a {self.file_bytes}-byte file holds (shared references repeated)"
            )


def _check_tensor(tensor: torch.Tensor, path: tuple[object, ...], bounds: _Bounds) -> None:
    if tensor.layout != torch.strided or tensor.is_quantized or tensor.is_nested:
        raise _Refused(f"{_where(path)}: a tensor of layout {tensor.layout} (expected a dense tensor)")
    if tensor.device.type == "meta":
        raise _Refused(f"{_where(path)}: a tensor on the meta device (it has no data)")
    logical = tensor.numel() * tensor.element_size()
    storage = tensor.untyped_storage().nbytes()
    # A view may not read more bytes than its storage holds: a stride-0 view of one element would
    # otherwise become a tensor of any size when made contiguous.
    if logical > storage:
        raise _Refused(
            f"{_where(path)}: a tensor of shape {list(tensor.shape)} ({logical} bytes) over a storage of "
            f"{storage} bytes (expected a tensor that owns its elements)"
        )
    if bounds.file_bytes is not None and storage > bounds.file_bytes:
        raise _Refused(
            f"{_where(path)}: a tensor storage of {storage} bytes, more than the file's {bounds.file_bytes}"
        )
    bounds.spend(1 + logical, path)


def _check(value: object, path: tuple[object, ...], depth: int, bounds: _Bounds) -> None:
    """Refuses (``_Refused``) any value that the canonical serialisation does not cover, containers
    nested beyond ``_MAX_DEPTH`` and structures that cost more than ``bounds`` allows."""
    bounds.spend(1, path)
    if value is None or isinstance(value, (bool, float, complex, torch.dtype, torch.device)):
        return
    if isinstance(value, int):
        if not _INT_RANGE[0] <= value < _INT_RANGE[1]:
            raise _Refused(f"{_where(path)}: an int of {value.bit_length()} bits (expected at most 64)")
        return
    if isinstance(value, (str, bytes)):
        bounds.spend(len(value), path)
        return
    if isinstance(value, torch.Tensor):
        _check_tensor(value, path, bounds)
        return
    if not isinstance(value, (list, tuple, dict)):
        raise _Refused(f"{_where(path)}: a value of type {type(value).__name__} (expected tensors, numbers, "
                       "str, bytes, None, lists, tuples and dicts)")  # fmt: skip
    if depth >= _MAX_DEPTH:
        raise _Refused(f"{_where(path)}: containers nested more than {_MAX_DEPTH} deep")
    if isinstance(value, dict):
        for key in value:
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise _Refused(f"{_where(path)}: a key of type {type(key).__name__} (expected str or int keys)")
        if any(isinstance(key, int) for key in value):
            for key in value:
                if isinstance(key, int):
                    _check(key, (*path, key), depth + 1, bounds)
        for key, item in value.items():
            _check(item, (*path, key), depth + 1, bounds)
    else:
        for index, item in enumerate(value):
            _check(item, (*path, index), depth + 1, bounds)


# ---------------------------------------------------------------------------------------------
# The digest: a canonical, type-tagged serialisation of every value
# ---------------------------------------------------------------------------------------------


def _tagged(tag: bytes, data: bytes) -> bytes:
    return tag + struct.pack("<Q", len(data)) + data


def _tensor_bytes(tensor: torch.Tensor) -> Iterator[bytes]:
    tensor = tensor.detach().cpu().resolve_conj().resolve_neg().contiguous()
    yield _tagged(b"t", f"{tensor.dtype}".encode())
    yield struct.pack(f"<Q{tensor.dim()}q", tensor.dim(), *tensor.shape)
    yield struct.pack("<Q", tensor.numel() * tensor.element_size())
    if tensor.numel():
        # reshape(-1) first: a 0-dim tensor cannot be viewed as bytes.
        yield tensor.reshape(-1).view(torch.uint8).numpy().data


def _serialise(value: object) -> Iterator[bytes]:
    """The canonical bytes of a value checked by ``_check``; every value carries its type."""
    if value is None:
        yield b"N"
    elif isinstance(value, bool):
        yield b"T" if value else b"F"
    elif isinstance(value, int):
        yield _tagged(b"i", str(int(value)).encode())
    elif isinstance(value, float):
        yield _tagged(b"f", float.hex(value).encode())  # exact, -0.0 and NaN included
    elif isinstance(value, complex):
        yield _tagged(b"c", f"{float.hex(value.real)},{float.hex(value.imag)}".encode())
    elif isinstance(value, str):
        yield _tagged(b"s", value.encode("utf-8", "surrogatepass"))
    elif isinstance(value, bytes):
        yield _tagged(b"b", value)
    elif isinstance(value, torch.dtype):
        yield _tagged(b"d", str(value).encode())
    elif isinstance(value, torch.device):
        yield _tagged(b"v", str(value).encode())
    elif isinstance(value, torch.Tensor):
        yield from _tensor_bytes(value)
    elif isinstance(value, dict):
        yield b"D" + struct.pack("<Q", len(value))
        for key in sorted(value, key=_key_order):
            yield from _serialise(key)
            yield from _serialise(value[key])
    elif isinstance(value, (list, tuple)):
        yield (b"L" if isinstance(value, list) else b"U") + struct.pack("<Q", len(value))
        for item in value:
            yield from _serialise(item)
    else:  # _check refuses these first
        raise _Refused(f"a value of type {type(value).__name__}")


def _digest(payload: dict[str, Any]) -> str:
    """SHA-256 of the canonical serialisation of every entry of the payload but the digest."""
    sha = hashlib.sha256()
    for chunk in _serialise({key: value for key, value in payload.items() if key != "sha256"}):
        sha.update(chunk)
    return sha.hexdigest()


# ---------------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------------


class _RecordingWriter:
    """The file torch.save writes to; keeps the OSError of a failed write, which torch.save
    reports only as a RuntimeError about the archive's position."""

    def __init__(self, file) -> None:
        self.file = file
        self.error: OSError | None = None

    def write(self, data) -> int:
        try:
            return self.file.write(data)
        except OSError as error:
            self.error = error
            raise

    def flush(self) -> None:
        try:
            self.file.flush()
        except OSError as error:
            self.error = error
            raise


_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


# ".<name>.<pid>.<8 hex>.tmp"; tempfile.mkstemp's ".<name>.<8 chars>.tmp" of earlier versions.
_TEMPORARY_NAME = re.compile(r"(\d+)\.[0-9a-f]{8}\.tmp")
_OLD_TEMPORARY_NAME = re.compile(r"[a-z0-9_]{8}\.tmp")


def _temporary_prefix(path: Path) -> str:
    return f".{path.name}."


def _remove_stale_temporaries(path: Path, keep: Path) -> None:
    """Removes temporary files that earlier saves of ``path`` left when they were killed: those
    whose writing process no longer runs (their names carry its id)."""
    prefix = _temporary_prefix(path)
    try:
        candidates = [p for p in path.parent.iterdir() if p.name.startswith(prefix) and p.name.endswith(".tmp")]
    except OSError:
        return
    for candidate in candidates:
        rest = candidate.name[len(prefix) :]
        ours = _TEMPORARY_NAME.fullmatch(rest)
        if candidate == keep or not (ours or _OLD_TEMPORARY_NAME.fullmatch(rest)):
            continue  # not a temporary file of this path (another target's name may share the prefix)
        if ours:
            pid = int(ours.group(1))
            if pid == os.getpid():
                continue  # another thread's save in progress
            try:
                os.kill(pid, 0)
                continue  # its writer still runs: a concurrent save
            except ProcessLookupError:
                pass
            except (PermissionError, OverflowError, OSError):
                continue
        candidate.unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    """Makes the rename durable: without it a power cut may bring back the old directory entry."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # a platform without directory handles
    try:
        os.fsync(fd)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def save_checkpoint(model: nn.Module, path: str | os.PathLike, *, extra: dict[str, Any] | None = None) -> None:
    """Writes ``model``'s state_dict (and ``extra``, e.g. an optimizer's state_dict) to ``path``
    atomically, with a digest of its contents.

    ``extra`` holds tensors, numbers, str, bytes, None, and lists, tuples and dicts of them (dict
    keys str or int). Raises ``OSError`` (errno ENOSPC) when the disk is full; a refused or failed
    save leaves ``path`` and its directory as they were.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    if extra is not None and not isinstance(extra, dict):
        raise TypeError(f"extra: expected a dict or None, got {type(extra).__name__}")
    from . import __version__

    path = Path(path)
    if not path.parent.is_dir():
        raise ValueError(f"path: the directory {str(path.parent)!r} does not exist")
    state_dict = model.state_dict()
    extra = {} if extra is None else extra
    for name, part in (("model", state_dict), ("extra", extra)):
        try:
            for key in part:
                if name == "model" and not isinstance(key, str):
                    raise _Refused(f"[{key!r}]: a key of type {type(key).__name__} (expected str keys)")
            _check(part, (), 0, _Bounds(None))
        except _Refused as error:
            what = "its state_dict" if name == "model" else "extra"
            raise TypeError(f"{name}: {what} holds what a checkpoint cannot store: {error}") from None
    payload = {
        "analogtorch_checkpoint": _FORMAT,
        "analogtorch_version": __version__,
        "state_dict": state_dict,
        "extra": extra,
    }
    payload["sha256"] = _digest(payload)

    # The writer's pid in the name tells a later save whether the file is a killed save's leftover.
    temporary = path.parent / f"{_temporary_prefix(path)}{os.getpid()}.{secrets.token_hex(4)}.tmp"
    writer = None
    try:
        with open(temporary, "xb") as file:
            writer = _RecordingWriter(file)
            torch.save(payload, writer)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)  # atomic on POSIX: readers see the old file or the new one
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        cause = error if isinstance(error, OSError) else (writer.error if writer is not None else None)
        if isinstance(cause, OSError) and cause.errno in _NO_SPACE:
            raise OSError(
                cause.errno, f"save_checkpoint: no space left on device writing {str(path)!r} (nothing was changed)"
            ) from error
        raise
    _fsync_directory(path.parent)
    _remove_stale_temporaries(path, keep=path)


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def _check_archive(path: Path, size: int) -> None:
    """A zip archive as torch.save writes it: members stored, not compressed, within the file (a
    compressed member could expand to any size when read)."""
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        if not members:
            raise _Refused("an empty archive")
        for info in members:
            if info.compress_type != zipfile.ZIP_STORED or info.file_size > size:
                raise _Refused(f"archive member {info.filename!r} is compressed or larger than the file")


def load_checkpoint(model: nn.Module, path: str | os.PathLike, *, strict: bool = True) -> dict[str, Any]:
    """Loads a checkpoint written by :func:`save_checkpoint` into ``model``, all or nothing; returns
    its ``extra`` dict. Raises ``ValueError`` naming the file for one that is truncated, corrupted,
    crafted, of another format, or saved from another model; the model is then left as it was."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path: no checkpoint file at {str(path)!r}")
    name = str(path)
    try:
        size = path.stat().st_size
        _check_archive(path, size)
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load's errors for a damaged file are of many kinds
        detail = f"{type(error).__name__}: {error}" if not isinstance(error, _Refused) else str(error)
        raise ValueError(f"checkpoint {name!r}: unreadable (truncated or not written by torch.save): {detail:.500}") from None
    form = payload.get("analogtorch_checkpoint") if isinstance(payload, dict) else None
    if type(form) is not int or form != _FORMAT:
        raise ValueError(
            f"checkpoint {name!r}: not an analogtorch checkpoint of format {_FORMAT} "
            "(write one with analogtorch.save_checkpoint, or load a plain state_dict with load_state_dict)"
        )
    if sorted(payload, key=str) != sorted(_PAYLOAD_KEYS):
        raise ValueError(f"checkpoint {name!r}: expected the entries {list(_PAYLOAD_KEYS)}, got {list(map(str, payload))}")
    state_dict, extra, sha256 = payload["state_dict"], payload["extra"], payload["sha256"]
    if not isinstance(state_dict, dict) or not isinstance(extra, dict) or not isinstance(sha256, str):
        raise ValueError(f"checkpoint {name!r}: expected dicts state_dict and extra and a str sha256")
    # Bounded before hashing: the digest reads every byte of every value.
    try:
        for key in state_dict:
            if not isinstance(key, str):
                raise _Refused(f"['state_dict']: a key of type {type(key).__name__} (expected str keys)")
        _check(payload, (), 0, _Bounds(size))
    except _Refused as error:
        raise ValueError(f"checkpoint {name!r}: malformed: {error}") from None
    if sha256 != _digest(payload):
        raise ValueError(f"checkpoint {name!r}: its contents do not match their SHA-256 digest (corrupted)")
    try:
        load_state_dict(model, state_dict, strict=strict)
    except (TypeError, KeyError, AttributeError, IndexError, OverflowError) as error:
        # A module's loader tripping over a well-formed but unexpected value: still a bad file.
        raise ValueError(f"checkpoint {name!r}: refused by the model: {type(error).__name__}: {error}") from error
    return extra


def load_state_dict(model: nn.Module, state_dict: dict[str, Any], *, strict: bool = True) -> None:
    """``model.load_state_dict(state_dict, strict=strict)``, all or nothing: ``load_state_dict`` copies
    module by module, so when one refuses its part the others would keep theirs; here every module is
    restored to its state before the call, and the error is raised."""
    if not isinstance(state_dict, dict):
        raise TypeError(f"state_dict: expected a dict, got {type(state_dict).__name__}")
    snapshot = copy.deepcopy(model.state_dict())
    try:
        model.load_state_dict(state_dict, strict=strict)
    except Exception:
        model.load_state_dict(snapshot)
        raise
