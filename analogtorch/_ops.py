"""The op layer: loads the compiled kernels and registers fake kernels and autograd.

Nothing else in the package touches ``torch.ops.analogtorch`` directly; it calls the typed
wrappers below.
"""

from __future__ import annotations

import importlib
import warnings

import torch

from . import _C  # noqa: F401  (registers the schemas and the CPU kernels)

__all__ = ["cuda_kernels_available", "make_rng_state", "pcm_program", "pcm_read"]


def _load_cuda_kernels() -> bool:
    try:
        importlib.import_module("analogtorch._C_cuda")
    except ModuleNotFoundError:
        return False  # built without CUDA: a CPU-only extension
    except ImportError as error:  # built with CUDA but the library cannot load here
        warnings.warn(f"analogtorch: CUDA kernels present but not loadable ({error}); using the CPU only")
        return False
    return True


_CUDA_KERNELS = _load_cuda_kernels()


def cuda_kernels_available() -> bool:
    """Whether the CUDA kernels were built and loaded (a GPU may still be absent)."""
    return _CUDA_KERNELS


def make_rng_state(seed: int, step: int = 0, device: torch.device | str | None = None) -> torch.Tensor:
    """The random state that every op takes: an int64 tensor ``[2] = (seed, step)``.

    The same state gives the same bits on every device and thread count. Ops never advance it:
    callers bump ``step`` (``state[1] += 1``) when they want fresh draws.
    """
    if not isinstance(seed, int) or not isinstance(step, int):
        raise TypeError(f"seed and step: expected ints, got {type(seed).__name__} and {type(step).__name__}")
    if not -(2**63) <= seed < 2**64:
        raise ValueError(f"seed: expected a 64-bit integer, got {seed}")
    if step < 0:
        raise ValueError(f"step: expected an integer >= 0, got {step}")
    if seed >= 2**63:
        seed -= 2**64  # same 64 bits, stored as int64
    return torch.tensor([seed, step], dtype=torch.int64, device=device)


# ---------------------------------------------------------------------------------------------
# Typed wrappers
# ---------------------------------------------------------------------------------------------


def pcm_program(target_us: torch.Tensor, rng: torch.Tensor, g_max_us: float = 25.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Programs PCM devices open loop (PHYSICS.md section 2).

    Args:
        target_us: float32 [*] target conductances in uS (clipped to [0, g_max_us]).
        rng: int64 [2] (seed, step) on the same device.
        g_max_us: conductance range of one device in uS.

    Returns:
        (conductance_us, drift_nu): the programmed conductances G_p (read at t0) and the drift
        exponent drawn for each device, both float32 with the shape of ``target_us``.
    """
    return torch.ops.analogtorch.pcm_program(target_us, rng, float(g_max_us))


def pcm_read(
    conductance_us: torch.Tensor,
    drift_nu: torch.Tensor,
    rng: torch.Tensor,
    time_s: float,
    *,
    g_max_us: float = 25.0,
    t0_s: float = 20.0,
    t_read_s: float = 250e-9,
    read_noise: bool = True,
) -> torch.Tensor:
    """Reads PCM devices ``time_s`` seconds after programming: drift, then fresh 1/f read noise.

    G(t) = G_p (t / t0)^-nu for t > t0 (G_p for t <= t0), plus Gaussian read noise of standard
    deviation |G(t)| Q_s sqrt(ln((t + t_r) / (2 t_r))), floored at 0 uS.

    Args:
        conductance_us: float32 [*] programmed conductances G_p in uS.
        drift_nu: float32, same shape: drift exponent of each device.
        rng: int64 [2] (seed, step) on the same device; bump the step for a fresh read.
        time_s: seconds since programming (>= 0).

    Returns:
        float32 tensor of the shape of ``conductance_us``: conductances read, in uS.
    """
    return torch.ops.analogtorch.pcm_read(
        conductance_us, drift_nu, rng, float(time_s), float(g_max_us), float(t0_s), float(t_read_s), bool(read_noise)
    )


# ---------------------------------------------------------------------------------------------
# Fake (meta) kernels: output shapes for torch.compile and FakeTensor tracing. They repeat the
# kernels' checks so that a traced program fails with the same message as an eager one.
# ---------------------------------------------------------------------------------------------


def _check_float32(tensor: torch.Tensor, name: str) -> None:
    torch._check(tensor.dtype == torch.float32, lambda: f"{name}: expected a float32 tensor, got {tensor.dtype}")


def _check_same_device(tensor: torch.Tensor, name: str, ref: torch.Tensor, ref_name: str) -> None:
    torch._check(
        tensor.device == ref.device,
        lambda: f"{name}: expected a tensor on the same device as {ref_name} ({ref.device}), got {tensor.device}",
    )


def _check_same_shape(tensor: torch.Tensor, name: str, ref: torch.Tensor, ref_name: str) -> None:
    torch._check(
        tensor.shape == ref.shape,
        lambda: f"{name}: expected the shape of {ref_name} {list(ref.shape)}, got {list(tensor.shape)}",
    )


def _check_rng(rng: torch.Tensor, ref: torch.Tensor, ref_name: str) -> None:
    torch._check(rng.dtype == torch.int64, lambda: f"rng: expected an int64 tensor (seed, step), got {rng.dtype}")
    torch._check(rng.shape == (2,), lambda: f"rng: expected shape [2] (seed, step), got {list(rng.shape)}")
    _check_same_device(rng, "rng", ref, ref_name)


@torch.library.register_fake("analogtorch::pcm_program")
def _pcm_program_fake(target_us, rng, g_max_us):
    _check_float32(target_us, "target_us")
    _check_rng(rng, target_us, "target_us")
    out = torch.empty_like(target_us, memory_format=torch.contiguous_format)
    return out, torch.empty_like(out)


@torch.library.register_fake("analogtorch::pcm_read")
def _pcm_read_fake(conductance_us, drift_nu, rng, time_s, g_max_us, t0_s, t_read_s, read_noise):
    _check_float32(conductance_us, "conductance_us")
    _check_float32(drift_nu, "drift_nu")
    _check_same_device(drift_nu, "drift_nu", conductance_us, "conductance_us")
    _check_same_shape(drift_nu, "drift_nu", conductance_us, "conductance_us")
    _check_rng(rng, conductance_us, "conductance_us")
    return torch.empty_like(conductance_us, memory_format=torch.contiguous_format)
