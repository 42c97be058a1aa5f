"""``python -m analogtorch demo``: program a Gaussian weight matrix into PCM pairs and read it back
at growing times: how much of each weight drift and read noise leave, with and without global drift
compensation."""

from __future__ import annotations

import argparse

import torch

from .. import _ops
from .._ops import make_rng_state
from ..config import PCMDevice

__all__ = ["TIMES_S", "add_arguments", "demo", "validate"]

TIMES_S = {"1 s": 1.0, "1 min": 60.0, "1 h": 3600.0, "1 day": 86400.0, "1 month": 2.628e6, "1 year": 3.156e7}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, default=512, help="rows of the weight matrix")
    parser.add_argument("--cols", type=int, default=512, help="columns of the weight matrix")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and of every device draw")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where to run the ops")
    parser.add_argument("--programming", default="closed_loop", choices=["closed_loop", "open_loop"],
                        help="program-and-verify from RESET, or open loop with its programming noise")  # fmt: skip


def validate(args: argparse.Namespace) -> argparse.Namespace:
    """Checks the options; returns them."""
    for name in ("rows", "cols"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name}: expected an integer >= 1, got {getattr(args, name)}")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available")
    return args


def demo(args: argparse.Namespace) -> int:
    """Programs a Gaussian weight matrix (open or closed loop) and reads it back at growing times."""
    validate(args)
    device = torch.device(args.device)
    g_max_us = 25.0
    weights = torch.randn(args.rows, args.cols, generator=torch.Generator().manual_seed(args.seed)).to(device)
    pcm = PCMDevice(programming=args.programming)
    # The largest weight uses the whole programmable range (closed loop clips targets lower).
    g_range_us = pcm.target_clip_us if args.programming == "closed_loop" else g_max_us
    scale_us = g_range_us / weights.abs().max().item()
    # One PCM pair per weight: the sign picks the device, the other stays at 0 uS.
    target_plus = (weights * scale_us).clamp(min=0.0)
    target_minus = (-weights * scale_us).clamp(min=0.0)
    rng = make_rng_state(args.seed, device=device)
    g_plus, nu_plus, pulses, _, converged = _ops.pcm_program(target_plus, rng, pcm)
    rng[1] += 1
    g_minus, nu_minus, *_ = _ops.pcm_program(target_minus, rng, pcm)

    print(f"analogtorch demo: {args.rows}x{args.cols} weights programmed into PCM pairs on {device}")
    print(f"(G_max = {g_max_us} uS, {args.programming.replace('_', '-')} programming, drift and 1/f read noise)")
    print(f"G+ devices: {pulses.float().mean().item():.1f} pulses each, {100 * converged.float().mean().item():.2f}% within tolerance\n")
    header = f"{'time after programming':>24} {'mean |W| / |W0|':>16} {'weight error':>13} {'error w/ comp.':>15}"
    print(header)
    print("-" * len(header))
    w_target = (target_plus - target_minus) / scale_us
    for label, time_s in TIMES_S.items():
        rng[1] += 1
        read_plus = _ops.pcm_read(g_plus, nu_plus, rng, time_s)
        rng[1] += 1
        read_minus = _ops.pcm_read(g_minus, nu_minus, rng, time_s)
        w = (read_plus - read_minus) / scale_us
        shrink = (w.abs().mean() / w_target.abs().mean()).item()
        error = ((w - w_target).norm() / w_target.norm()).item()
        # Global drift compensation: one scalar per array restores the mean weight magnitude.
        error_compensated = ((w / shrink - w_target).norm() / w_target.norm()).item()
        print(f"{label:>24} {shrink:>16.4f} {error:>13.4f} {error_compensated:>15.4f}")
    return 0
