"""One read of a weight matrix held by a grid of crossbar arrays, through their periphery, in hardware
units (docs/physics.md section 3); shared by every tile kind.

The matrix ``[out, in]`` is split into arrays of at most ``array_rows`` inputs x ``array_cols``
outputs. A forward read of input vectors ``x``:

1. each vector's slice for array row ``r`` is scaled to the DAC's full range (noise management) or
   by a fixed bound, and quantised;
2. every array multiplies it with its conductances, in units of a full-scale device
   (``full_scale[r, o]``: the network-unit weight one device at G_max stands for), with the
   devices' read noise;
3. every output gets output noise and the ADC (range and bits in full-scale device reads; with bound
   management a saturated output is read again with halved inputs);
4. the partial sums are scaled back (input scale, full scale, drift compensation per array) and
   added digitally.

The transposed read of in-situ training (autograd's backward) does the same with the error vector
through the transposed arrays. The weight gradient is digital and exact (the outer product of the
error with the input as the DAC delivered it). Everything is tensor operations and registered ops:
no host synchronisation, nothing kept between reads.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .. import _ops as ops
from .._finite import all_finite
from ..config import Periphery

__all__ = ["Grid", "array_read", "backward_rng", "block_l1", "block_max", "expand_blocks", "mul_blocks_"]

# Step-word bits that separate the draws of one read's parts (the generator takes steps modulo 2^40):
# bit 39 the backward (transposed) read, bits 36-38 the bound-management re-reads.
_BACKWARD_STEP_BIT = 1 << 39
_REREAD_STEP_SHIFT = 36
TINY = 1e-30  # the smallest full scale: an all-zero array still has a positive one


def backward_rng(rng: torch.Tensor) -> torch.Tensor:
    """The rng state of the transposed read that belongs to the forward read keyed by ``rng``."""
    state = rng.clone()
    state[1] += _BACKWARD_STEP_BIT
    return state


def _reread_rng(rng: torch.Tensor, round_: int) -> torch.Tensor:
    state = rng.clone()
    state[1] += round_ << _REREAD_STEP_SHIFT
    return state


class Grid:
    """How a ``out x in`` matrix splits over arrays: ``row_blocks`` x ``col_blocks`` arrays of
    ``rows`` inputs x ``cols`` outputs (the last ones padded)."""

    def __init__(self, out_features: int, in_features: int, periphery: Periphery):
        self.out_features, self.in_features = out_features, in_features
        self.rows = max(1, min(periphery.array_rows, in_features))
        self.cols = max(1, min(periphery.array_cols, out_features))
        self.row_blocks = max(1, math.ceil(in_features / self.rows))
        self.col_blocks = max(1, math.ceil(out_features / self.cols))

    @property
    def arrays(self) -> int:
        return self.row_blocks * self.col_blocks

    def __repr__(self) -> str:
        return f"{self.col_blocks}x{self.row_blocks} arrays of {self.cols}x{self.rows}"


def _row_block_view(matrix: torch.Tensor, grid: Grid) -> torch.Tensor:
    """``[out, in]`` -> ``[out, row_blocks, rows]``: a view when the inputs fill the arrays, else a
    zero-padded copy."""
    out, inputs = matrix.shape
    pad = grid.row_blocks * grid.rows - inputs
    padded = F.pad(matrix, (0, pad)) if pad else matrix
    return padded.reshape(out, grid.row_blocks, grid.rows)


def _row_chunks(grid: Grid):
    """The input slices of the array row blocks."""
    return [slice(r * grid.rows, min((r + 1) * grid.rows, grid.in_features)) for r in range(grid.row_blocks)]


def block_max(weight: torch.Tensor, grid: Grid, mapping: str) -> torch.Tensor:
    """``[row_blocks, out]``: the largest |w| of each array (``mapping="array"``) or of each column
    within its array (``"column"``), at least a tiny positive number. No |w| temporary
    (a NaN propagates)."""
    out = weight.shape[0]
    blocks = _row_block_view(weight, grid)
    # amax and amin along a dimension: two fast passes, where aminmax(dim=...) took 7x longer.
    per_column = torch.maximum(blocks.amax(dim=-1), -blocks.amin(dim=-1)).t()  # [R, out]
    if mapping == "array":
        cols = F.pad(per_column, (0, grid.col_blocks * grid.cols - out)).view(grid.row_blocks, grid.col_blocks, grid.cols)
        per_column = cols.amax(dim=-1, keepdim=True).expand(-1, -1, grid.cols).reshape(grid.row_blocks, -1)[:, :out]
    return per_column.clamp(min=TINY)


def expand_blocks(per_block: torch.Tensor, grid: Grid) -> torch.Tensor:
    """``[row_blocks, out]`` -> ``[out, in]``: each array row block's value over its inputs."""
    return per_block.t().repeat_interleave(grid.rows, dim=1)[:, : grid.in_features]


@torch.no_grad()
def mul_blocks_(matrix: torch.Tensor, per_block: torch.Tensor, grid: Grid) -> torch.Tensor:
    """``matrix`` (``[out, in]``, contiguous) times each array row block's value (``[row_blocks, out]``),
    in place: ``matrix * expand_blocks(per_block)`` without the expanded temporary."""
    for r, chunk in enumerate(_row_chunks(grid)):
        matrix[:, chunk].mul_(per_block[r].unsqueeze(1))
    return matrix


def block_l1(matrix: torch.Tensor, grid: Grid) -> torch.Tensor:
    """``[row_blocks, out]``: sum |w| over each column's slice within each array row block."""
    return torch.stack([torch.linalg.vector_norm(matrix[:, chunk], ord=1, dim=1) for chunk in _row_chunks(grid)])


def _converter(x: torch.Tensor, rng: torch.Tensor, bits: int, bound: float, noise: float) -> torch.Tensor:
    if bits == 0 and noise == 0.0:
        return x
    return ops.quantize(x.contiguous(), rng, bits=bits, bound=bound, noise_std=noise / bound)


def _input_scale(x_blocks: torch.Tensor, periphery: Periphery) -> torch.Tensor:
    """The scale of each vector's slice (``[..., 1]``): its largest magnitude (noise management) or
    the fixed bound; all-zero slices keep scale 1."""
    if periphery.input_scaling == "fixed":
        return x_blocks.new_full((*x_blocks.shape[:-1], 1), periphery.in_bound)
    largest = x_blocks.abs().amax(dim=-1, keepdim=True)
    return torch.where(largest > 0, largest, torch.ones_like(largest))


def _blocks(matrix: torch.Tensor, grid: Grid) -> torch.Tensor:
    """``[out, in]`` -> ``[R, rows, out]`` (zero-padded inputs)."""
    return _row_block_view(matrix, grid).permute(1, 2, 0)


def _forward_read(x, weight, variance, full_scale, partial_scale, rng, periphery: Periphery, grid: Grid):
    """The forward read (see the module docstring); returns (y ``[N, out]``, the dequantised DAC
    input ``[N, in]``, the number of re-reads of bound management as a 0-dim tensor)."""
    n = x.shape[0]
    x_blocks = F.pad(x, (0, grid.row_blocks * grid.rows - grid.in_features)).view(n, grid.row_blocks, grid.rows)
    scale = _input_scale(x_blocks, periphery)  # [N, R, 1]

    def dac(values: torch.Tensor) -> torch.Tensor:
        converted = _converter(values, rng, periphery.in_bits, 1.0, 0.0)
        return converted.clamp(-1.0, 1.0) if periphery.input_scaling == "fixed" else converted

    x_dac = dac(x_blocks / scale)  # [N, R, rows]
    weights = _blocks(weight, grid)  # [R, rows, out]
    variances = None if variance is None else _blocks(variance, grid)
    fs = full_scale.unsqueeze(1)  # [R, 1, out]

    def read(inputs: torch.Tensor, key: torch.Tensor, noise_variance: torch.Tensor | None = None):
        """The arrays' analog outputs (full-scale device reads, read noise included), what the ADC
        makes of them, and the variance of their read noise (``noise_variance`` if given)."""
        columns = inputs.transpose(0, 1)  # [R, N, rows]
        analog = torch.bmm(columns, weights) / fs
        if variances is not None:
            if noise_variance is None:
                noise_variance = (torch.bmm(columns.square(), variances) / fs.square()).contiguous()
            analog = ops.add_read_noise(analog.contiguous(), noise_variance, key)
        return analog, _converter(analog, key, periphery.out_bits, periphery.out_bound, periphery.out_noise), noise_variance

    analog, y, noise_variance = read(x_dac, rng)  # [R, N, out]
    rereads = torch.zeros((), dtype=torch.float64, device=y.device)
    if periphery.bound_management and periphery.saturates:
        # An array whose read of a vector saturated reads it again with its inputs halved, until it
        # fits (at most max_rereads halvings). The halvings it takes are those that bring the first
        # read's analog peak within range, so that one more read gives the result of the last round
        # (a re-read that its own noise pushes over the bound stays saturated). Computed for every
        # vector and used where needed: no host synchronisation.
        bound = periphery.out_bound
        saturated = (y.abs() >= bound).any(dim=-1, keepdim=True)  # [R, N, 1], per array and vector
        peak = analog.abs().amax(dim=-1, keepdim=True)
        halvings = torch.log2(peak / bound).ceil().nan_to_num(nan=1.0).clamp(1, periphery.max_rereads)
        factor = torch.exp2(-halvings)  # [R, N, 1]
        # The re-read's read-noise variance is the first read's times the halving squared: the DAC's
        # rounding of the halved inputs changes it by well under 1%, and a second product of the
        # squared inputs with the devices' variances would cost as much as the read itself.
        reread_variance = None if noise_variance is None else (noise_variance * factor.square()).contiguous()
        _, again, _ = read(dac(x_blocks / scale * factor.transpose(0, 1)), _reread_rng(rng, 1), reread_variance)
        y = torch.where(saturated, again / factor, y)
        rereads = (halvings * saturated).sum(dtype=torch.float64)
    y = y * fs
    if partial_scale is not None:
        y = y * partial_scale.unsqueeze(1)
    y = (y * scale.transpose(0, 1)).sum(dim=0)
    x_used = (x_dac * scale).reshape(n, -1)[:, : grid.in_features]
    return y, x_used, rereads


def _transposed_read(d, weight, variance, full_scale, rng, periphery: Periphery, grid: Grid):
    """The transposed read of error vectors ``d`` (``[N, out]``) through the same arrays: per array,
    the error slice (pre-scaled digitally by each column's full scale, so that the array computes in
    its conductances) is scaled to the DAC's range, read through the transposed conductances with
    read noise, output noise and the ADC, scaled back; partial sums added. Returns ``[N, in]``."""
    n, out = d.shape
    R, C, rows, cols = grid.row_blocks, grid.col_blocks, grid.rows, grid.cols
    pad_out, pad_in = C * cols - out, R * rows - grid.in_features
    pre = d.unsqueeze(1) * full_scale.unsqueeze(0)  # [N, R, out]
    pre = F.pad(pre, (0, pad_out)).view(n, R, C, cols)
    scale = _input_scale(pre, periphery)  # [N, R, C, 1]
    d_dac = _converter(pre / scale, rng, periphery.in_bits, 1.0, 0.0)
    conductance = weight / expand_blocks(full_scale, grid)  # full-scale device units
    conductance = F.pad(conductance, (0, pad_in, 0, pad_out)).view(C, cols, R, rows).permute(2, 0, 1, 3)  # [R, C, cols, rows]
    inputs = d_dac.permute(1, 2, 0, 3).reshape(R * C, n, cols)
    z = torch.bmm(inputs, conductance.reshape(R * C, cols, rows))  # [R*C, N, rows]
    if variance is not None:
        fs2 = expand_blocks(full_scale, grid).square()
        var = F.pad(variance / fs2, (0, pad_in, 0, pad_out)).view(C, cols, R, rows).permute(2, 0, 1, 3).reshape(R * C, cols, rows)
        z = ops.add_read_noise(z.contiguous(), torch.bmm(inputs.square(), var).contiguous(), rng)
    z = _converter(z, rng, periphery.out_bits, periphery.out_bound, periphery.out_noise)
    z = z.view(R, C, n, rows) * scale.permute(1, 2, 0, 3)
    return z.sum(dim=1).permute(1, 0, 2).reshape(n, R * rows)[:, : grid.in_features]


def _refuse_second_derivatives() -> None:
    # A backward that builds a graph (create_graph=True) would differentiate the simulated transposed
    # read, converters and noise draws, which have no meaningful derivative: refuse, never return zeros.
    if torch.is_grad_enabled():
        raise RuntimeError(
            "analog reads: second derivatives (backward with create_graph=True, double backward) are not "
            "simulated; compute them on a digital copy (analogtorch.convert_to_digital)"
        )


class _ArrayRead(torch.autograd.Function):
    """The forward read, with the transposed read (or the exact transpose) as the input's gradient."""

    @staticmethod
    def forward(ctx, x, weight, variance, full_scale, partial_scale, rng, periphery, grid, transposed_noise):
        y, x_used, rereads = _forward_read(x, weight, variance, full_scale, partial_scale, rng, periphery, grid)
        ctx.save_for_backward(x, x_used, weight, variance, full_scale, partial_scale, rng)
        ctx.periphery, ctx.grid, ctx.transposed_noise = periphery, grid, transposed_noise
        ctx.mark_non_differentiable(rereads)
        return y, rereads

    @staticmethod
    def backward(ctx, grad_y, _grad_rereads):
        _refuse_second_derivatives()
        x, x_used, weight, variance, full_scale, partial_scale, rng, = ctx.saved_tensors
        periphery, grid = ctx.periphery, ctx.grid
        grad_x = grad_weight = None
        if partial_scale is not None:  # only deployed tiles compensate; they are not trained
            raise RuntimeError("a programmed (deployed) tile cannot be trained")
        if ctx.needs_input_grad[0]:
            noise = variance if ctx.transposed_noise else None
            # A NaN or Inf in the error (a diverged loss) cannot drive a DAC: read the finite part
            # and hand NaN on, so that the optimizer's check of the gradients (AnalogSGD's
            # nonfinite_grads) decides, without a host synchronisation here.
            finite = all_finite(grad_y)
            errors = torch.nan_to_num(grad_y, nan=0.0, posinf=0.0, neginf=0.0)
            if periphery.backward_like_forward and not periphery.ideal:
                grad_x = _transposed_read(errors, weight, noise, full_scale, backward_rng(rng), periphery, grid)
            else:
                grad_x = errors.matmul(weight)
                if noise is not None:
                    grad_x = ops.add_read_noise(grad_x.contiguous(), errors.square().matmul(noise).contiguous(), backward_rng(rng))
            grad_x = grad_x.masked_fill(~finite, float("nan"))
            if periphery.input_scaling == "fixed" and periphery.in_bits > 0:
                grad_x = grad_x * (x.abs() <= periphery.in_bound)  # clipped inputs pass no gradient
        if ctx.needs_input_grad[1]:
            grad_weight = grad_y.t().matmul(x_used)
        return grad_x, grad_weight, None, None, None, None, None, None, None


def array_read(
    x: torch.Tensor,
    weight: torch.Tensor,
    rng: torch.Tensor,
    periphery: Periphery,
    grid: Grid,
    *,
    full_scale: torch.Tensor,
    variance: torch.Tensor | None = None,
    partial_scale: torch.Tensor | None = None,
    transposed_read_noise: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One read of ``weight`` (``[out, in]``, network units) held by the arrays of ``grid`` by the
    input vectors ``x`` (``[N, in]``, float32); ``[N, out]`` without bias.

    Args:
        full_scale: ``[row_blocks, out]``: the network-unit weight one full-scale device stands for,
            per array row block and output (constant over an array with per-array mapping).
        variance: of each weight's read noise (network units squared); None: noiseless devices.
        partial_scale: ``[row_blocks, out]`` factors on each array's partial sums (drift compensation).
        transposed_read_noise: the backward's transposed read carries the devices' read noise too.

    Returns ``(y, rereads)``: the outputs and the number of re-reads of bound management (a 0-dim
    tensor; None when the read was exact).
    """
    if x.numel() == 0 or weight.numel() == 0:
        return F.linear(x, weight), None  # no vector or no device: an empty (or all-zero) read
    if periphery.ideal and partial_scale is None:
        # No converter, no output noise: the arrays' partial sums add up to the exact product.
        if variance is not None and transposed_read_noise and torch.is_grad_enabled():
            return _ExactReadWithNoise.apply(x, weight, variance, rng), None
        y = F.linear(x, weight)
        if variance is not None:
            with torch.no_grad():
                output_variance = F.linear(x.detach().square(), variance)
            y = ops.add_read_noise(y, output_variance, rng)
        return y, None
    return _ArrayRead.apply(x, weight, variance, full_scale, partial_scale, rng, periphery, grid, transposed_read_noise)


class _ExactReadWithNoise(torch.autograd.Function):
    """``y = x W^T`` with read noise per output, whose backward is the noisy transposed read (no
    converters): N(0, sum_i sigma_ij^2 grad_y_i^2) on input j's gradient; the weight gradient exact."""

    @staticmethod
    def forward(ctx, x, weight, variance, rng):
        ctx.save_for_backward(x, weight, variance, rng)
        y = F.linear(x, weight)
        return ops.add_read_noise(y, F.linear(x.square(), variance), rng)

    @staticmethod
    def backward(ctx, grad_y):
        _refuse_second_derivatives()
        x, weight, variance, rng = ctx.saved_tensors
        grad_x = grad_weight = None
        if ctx.needs_input_grad[0]:
            finite = all_finite(grad_y)  # as in _ArrayRead: NaN is handed on, not refused here
            errors = torch.nan_to_num(grad_y, nan=0.0, posinf=0.0, neginf=0.0)
            grad_x = ops.add_read_noise(errors.matmul(weight).contiguous(), errors.square().matmul(variance).contiguous(), backward_rng(rng))
            grad_x = grad_x.masked_fill(~finite, float("nan"))
        if ctx.needs_input_grad[1]:
            grad_weight = grad_y.t().matmul(x)
        return grad_x, grad_weight, None, None
