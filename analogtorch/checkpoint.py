"""Checkpoints of models with analog layers: written atomically, checked when read, loaded whole or
not at all.

``torch.save(model.state_dict(), f)`` and ``model.load_state_dict(torch.load(f, weights_only=True))``
work as for any model (every ``AnalogLinear`` refuses a corrupted or mismatched state of its own
before copying anything). These two functions add what a long training run needs:

- :func:`save_checkpoint` writes to a temporary file beside the target and renames it into place, so
  that a crash mid-write leaves the previous checkpoint intact, and stores a SHA-256 of the tensors'
  contents.
- :func:`load_checkpoint` reads with ``weights_only=True``, verifies the digest (a flipped byte in a
  tensor is refused, not trained on) and loads the model transactionally: if any module refuses its
  part, every module is restored to the state it had before the call.
"""

from __future__ import annotations

import copy
import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["load_checkpoint", "load_state_dict", "save_checkpoint"]

_FORMAT = 1


def _digest(state_dict: dict[str, Any]) -> str:
    """SHA-256 over every entry's name, and for tensors their dtype, shape and bytes."""
    sha = hashlib.sha256()
    for key in sorted(state_dict):
        value = state_dict[key]
        sha.update(key.encode())
        if isinstance(value, torch.Tensor):
            tensor = value.detach().cpu().contiguous()
            sha.update(f"{tensor.dtype}{list(tensor.shape)}".encode())
            sha.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
        else:
            sha.update(repr(value).encode())
    return sha.hexdigest()


def save_checkpoint(model: nn.Module, path: str | os.PathLike, *, extra: dict[str, Any] | None = None) -> None:
    """Writes ``model``'s state_dict (and ``extra``, e.g. an optimizer's state_dict) to ``path``
    atomically, with a digest of its contents."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    from . import __version__

    state_dict = model.state_dict()
    payload = {
        "analogtorch_checkpoint": _FORMAT,
        "analogtorch_version": __version__,
        "state_dict": state_dict,
        "sha256": _digest(state_dict),
        "extra": extra or {},
    }
    path = Path(path)
    if not path.parent.is_dir():
        raise ValueError(f"path: the directory {str(path.parent)!r} does not exist")
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(payload, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)  # atomic on POSIX: readers see the old file or the new one
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_checkpoint(model: nn.Module, path: str | os.PathLike, *, strict: bool = True) -> dict[str, Any]:
    """Loads a checkpoint written by :func:`save_checkpoint` into ``model``, all or nothing; returns
    its ``extra`` dict. Raises ``ValueError`` for a file that is truncated, corrupted, of another
    format, or saved from another model."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path: no checkpoint file at {str(path)!r}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, ValueError, pickle.UnpicklingError) as error:  # each in torch's words
        raise ValueError(f"checkpoint {str(path)!r}: unreadable (truncated or not written by torch.save): {error}") from None
    if not isinstance(payload, dict) or payload.get("analogtorch_checkpoint") != _FORMAT:
        raise ValueError(
            f"checkpoint {str(path)!r}: not an analogtorch checkpoint of format {_FORMAT} "
            "(write one with analogtorch.save_checkpoint, or load a plain state_dict with load_state_dict)"
        )
    state_dict = payload.get("state_dict")
    if not isinstance(state_dict, dict) or payload.get("sha256") != _digest(state_dict):
        raise ValueError(f"checkpoint {str(path)!r}: its contents do not match their SHA-256 digest (corrupted)")
    load_state_dict(model, state_dict, strict=strict)
    return payload.get("extra", {})


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
