"""``AnalogSGD``: ``torch.optim.SGD`` for models with analog layers.

Digital parameters (biases, digital layers, hardware-aware weights) are updated exactly as by
``torch.optim.SGD``: momentum, dampening, Nesterov, weight decay, maximize. The weights of in-situ
layers are updated through their devices: the SGD change ``-lr * (grad + weight_decay * w)`` becomes
capacitor pulses (or PCM pulses), the capacitors leak over the simulated time of the examples seen,
and transfers into PCM happen on schedule. The hardware holds no momentum: with ``momentum > 0`` such
weights take plain SGD steps, and the optimizer warns when it is built.

A step is all or nothing: every gradient (digital and device-held) is checked for NaN and Inf and
every device request validated before anything changes. By default a bad step raises ``ValueError``;
``nonfinite_grads="skip"`` skips it instead (as ``torch.amp.GradScaler`` does) and counts it in
``skipped_steps``.

That decision is the one host read of a step (:func:`_all_accepted`; on a GPU its one
synchronisation): the checks of every gradient and every device request are computed on the device
and read back together. Only when they fail are they repeated one by one, to name what failed; the
updates of an accepted step check no values again.
"""

from __future__ import annotations

import warnings

import torch

from ._finite import all_finite
from .nn.base import device_owner

__all__ = ["AnalogSGD"]


def _all_accepted(answers: list[torch.Tensor]) -> bool:
    """The one host read of an ``AnalogSGD`` step: whether every answer (0-dim bool tensors: a
    gradient is finite, a device request would be accepted) is True. An all-or-nothing step must
    know before it changes anything, and reads all of its answers back at once."""
    return bool(torch.stack(answers).all().item())


class AnalogSGD(torch.optim.SGD):
    """A drop-in for ``torch.optim.SGD`` (same arguments) that trains in-situ analog layers through
    their devices. ``loss.backward(); opt.step()`` as usual; no user code touches device state.

    ``nonfinite_grads``: ``"raise"`` (default) or ``"skip"``: what a step does when a gradient holds
    NaN or Inf (see the module docstring)."""

    def __init__(self, params, *args, nonfinite_grads: str = "raise", **kwargs):
        if nonfinite_grads not in ("raise", "skip"):
            raise ValueError(f"nonfinite_grads: expected 'raise' or 'skip', got {nonfinite_grads!r}")
        super().__init__(params, *args, **kwargs)
        self.nonfinite_grads = nonfinite_grads
        self.skipped_steps = 0
        held = [
            f"{type(owner[0]).__name__}.{owner[1]}"
            for group in self.param_groups
            if group["momentum"] != 0
            for param in group["params"]
            if (owner := device_owner(param)) is not None
        ]
        if held:
            warnings.warn(
                f"AnalogSGD: momentum applies to digital parameters only; the {len(held)} device-held weight(s) "
                f"({', '.join(held[:4])}{', ...' if len(held) > 4 else ''}) take plain SGD steps (the hardware holds no momentum)",
                stacklevel=2,
            )

    def _device_held(self) -> list[tuple[dict, torch.Tensor, object, str]]:
        return [
            (group, param, *owner)
            for group in self.param_groups
            for param in group["params"]
            if param.grad is not None and (owner := device_owner(param)) is not None
        ]

    def _refuse(self, message: str):
        if self.nonfinite_grads == "raise":
            raise ValueError(f"AnalogSGD: {message}; nothing was updated (nonfinite_grads='skip' skips such steps)")
        self.skipped_steps += 1
        if self.skipped_steps == 1:
            # _refuse <- _checks_pass <- step <- torch.no_grad's wrapper <- the caller's line
            warnings.warn(f"AnalogSGD: skipped a step: {message} (counted in skipped_steps)", stacklevel=5)

    def _checks_pass(self, grads: list[torch.Tensor], requests: list) -> bool:
        """The checks one by one, each naming what it found (host reads: this runs only when the
        step's answers were not all True). False: the step was refused or skipped."""
        if grads and not torch.stack([all_finite(grad) for grad in grads]).all():
            device_held = {id(param) for _, param, _, _ in self._device_held()}
            bad = [
                param for group in self.param_groups for param in group["params"]
                if param.grad is not None and not all_finite(param.grad)
            ]  # fmt: skip
            held = sum(id(param) in device_held for param in bad)
            self._refuse(
                f"the gradient of {len(bad)} parameter(s) ({held} device-held weight(s), {len(bad) - held} digital) holds NaN or Inf"
            )
            return False
        try:
            for _, layer, name, delta in requests:
                layer.check_device_update(name, delta)
        except ValueError as error:
            self._refuse(str(error))
            return False
        return True

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        grads = [param.grad for group in self.param_groups for param in group["params"] if param.grad is not None]
        requests = []
        for group, param, layer, name in self._device_held():
            grad = param.grad
            if group["weight_decay"] != 0:
                grad = grad.add(param, alpha=group["weight_decay"])
            direction = -1.0 if group["maximize"] else 1.0
            requests.append((param, layer, name, grad * (-direction * group["lr"])))
        # Every gradient and every device request is checked before anything changes, on the
        # device, and the answers are read back once: a refused or skipped step leaves the devices
        # and the digital parameters as they were.
        answers = [all_finite(grad) for grad in grads]
        answers += [layer.device_update_accepted(name, delta) for _, layer, name, delta in requests]
        accepted = bool(answers) and _all_accepted(answers)
        if not accepted and not self._checks_pass(grads, requests):
            return loss
        hidden = []
        for param, layer, name, delta in requests:
            layer.device_update(name, delta, checked=accepted)
            hidden.append((param, param.grad))
            param.grad = None  # keep the digital step away from device-held weights
        try:
            super().step()
        finally:
            for param, grad in hidden:
                param.grad = grad
        return loss
