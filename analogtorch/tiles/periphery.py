"""One read of a crossbar array through its periphery (docs/physics.md section 3), shared by every
tile kind: input DAC, the matrix-vector products with the devices' read noise, output ADC with
output noise; and the transposed read of in-situ training's backward pass.

Everything here is tensor operations and registered ops: no host synchronisation, no Python state,
so a compiled model captures a read whole.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import _ops as ops
from ..config import Periphery

__all__ = ["array_read", "backward_rng"]

# The top bit of the step word separates the draws of a backward (transposed) read from forward draws.
_BACKWARD_STEP_BIT = 1 << 39


def backward_rng(rng: torch.Tensor) -> torch.Tensor:
    """The rng state of the transposed read that belongs to the forward read keyed by ``rng``."""
    state = rng.clone()
    state[1] += _BACKWARD_STEP_BIT
    return state


def _converter(x: torch.Tensor, rng: torch.Tensor, bits: int, bound: float, noise: float) -> torch.Tensor:
    """A DAC or ADC read (clip, noise, rounding) with a straight-through gradient; off when bits = 0
    and noise = 0."""
    if bits == 0 and noise == 0.0:
        return x
    return ops.quantize(x.contiguous(), rng, bits=bits, bound=bound, noise_std=noise)


class _BackwardConverter(torch.autograd.Function):
    """Identity forward; in the backward, the transposed read of the array hands its result (the
    gradient of the input) through an ADC of the same kind as the forward's (docs/physics.md section
    3), its range set by the gradient's largest magnitude."""

    @staticmethod
    def forward(ctx, x, rng, bits, noise):
        ctx.save_for_backward(rng)
        ctx.bits, ctx.noise = bits, noise
        return x.view_as(x)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        (rng,) = ctx.saved_tensors
        if grad.numel() == 0:
            return grad, None, None, None
        with torch.no_grad():
            # The range follows the gradient's largest magnitude (no host sync: the gradient is
            # normalised, converted on [-1, 1] and scaled back).
            largest = grad.abs().amax().clamp(min=1e-30)
            normalised = (grad / largest).contiguous().float()
            grad = ops.quantize(normalised, backward_rng(rng), bits=ctx.bits, bound=1.0, noise_std=ctx.noise) * largest
        return grad, None, None, None


class _ReadWithTransposedNoise(torch.autograd.Function):
    """``y = x W^T`` whose backward is the array's transposed read (in-situ training): the gradient of
    the input carries the devices' read noise, N(0, sum_i sigma_ij^2 grad_y_i^2) for input j. The
    gradient of the weight is exact: the hardware applies it as pulses, it does not read it."""

    @staticmethod
    def forward(ctx, x, weight, variance, rng):
        ctx.save_for_backward(x, weight, variance, rng)
        return F.linear(x, weight)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_y):
        x, weight, variance, rng = ctx.saved_tensors
        grad_x = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_y.matmul(weight)
            noise_variance = grad_y.square().matmul(variance)
            grad_x = ops.add_read_noise(grad_x.contiguous(), noise_variance.contiguous(), backward_rng(rng))
        if ctx.needs_input_grad[1]:
            grad_weight = grad_y.reshape(-1, grad_y.shape[-1]).t().matmul(x.reshape(-1, x.shape[-1]))
        return grad_x, grad_weight, None, None


def array_read(
    x: torch.Tensor,
    weight: torch.Tensor,
    rng: torch.Tensor,
    periphery: Periphery,
    *,
    variance: torch.Tensor | None = None,
    transposed_read_noise: bool = False,
) -> torch.Tensor:
    """One read of the array holding ``weight`` (network units, ``[out, in]``) by the input vectors
    ``x`` (``[N, in]``, float32): DAC, products with the devices' read noise (``variance``: of each
    weight's read, network units squared; None: noiseless devices), ADC with output noise. Returns
    ``[N, out]`` without bias. The backward read sees the same converters when the periphery says so;
    ``transposed_read_noise`` gives it the devices' read noise too (in-situ training).
    """
    x = _converter(x, rng, periphery.in_bits, periphery.in_bound, 0.0)
    if periphery.backward_like_forward and torch.is_grad_enabled() and x.requires_grad:
        x = _BackwardConverter.apply(x, rng, periphery.out_bits, periphery.out_noise)
    if variance is not None and transposed_read_noise and torch.is_grad_enabled():
        y = _ReadWithTransposedNoise.apply(x, weight, variance, rng)
    else:
        y = F.linear(x, weight)
    if variance is not None:
        # Independent device noises sum per output: N(0, sum_j sigma_ij^2 x_j^2), one more GEMM.
        with torch.no_grad():
            output_variance = F.linear(x.detach().square(), variance)
        y = ops.add_read_noise(y, output_variance, rng)
    return _converter(y, rng, periphery.out_bits, periphery.out_bound, periphery.out_noise)
