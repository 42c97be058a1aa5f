"""No host synchronisation on the hot path: a training forward, its backward and an ``AnalogSGD``
step read nothing back from the device, for every preset, nor does a programmed model's eval
forward; the one exception is the step's documented all-or-nothing decision
(``analogtorch.optim._all_accepted``), one read per step. So that a training loop can run ahead of
a GPU, and be captured in a CUDA graph. Three proofs:

- Python: every way a tensor's value reaches Python (``.item()``, ``.tolist()``, ``bool()``,
  ``int()``, ``float()``, ``torch.equal``, ...) is patched to raise, and the ATen ops that
  synchronise (``_local_scalar_dense``, ``nonzero``, boolean masks, ...) are watched by a dispatch
  mode, so that the CPU path proves it by construction;
- C++: the ops count the host reads that their value checks make (``analogtorch.ops.host_reads``):
  the count does not move;
- CUDA, where a GPU exists: ``torch.cuda.set_sync_debug_mode("error")``.

Each proof is shown to catch a read that is inserted on purpose.
"""

from __future__ import annotations

import contextlib

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

import analogtorch
import analogtorch.optim
from analogtorch import AnalogConv2d, AnalogLinear, ops, presets
from analogtorch.optim import AnalogSGD

from conftest import requires_cuda

PRESETS = {
    "ideal": presets.ideal,
    "hardware_aware": presets.hardware_aware,
    "hardware_aware_noise_every_4": lambda: presets.hardware_aware(device_noise_every=4),
    "ambrogio2018": presets.ambrogio2018,
    "ambrogio2018_transfers": lambda: presets.ambrogio2018(transfer_every=100),  # a transfer every step
    "pcm_only": presets.pcm_only,
}
STEPS = 3

# Every way a tensor's value reaches Python.
TENSOR_READS = ("item", "tolist", "numpy", "__array__", "__bool__", "__int__", "__float__", "__complex__", "__index__",
                "equal", "allclose")  # fmt: skip
TORCH_READS = ("equal", "allclose", "is_nonzero")
# ATen ops that synchronise with the device: a scalar to the host, or an output whose size depends
# on the values (on a GPU, the host waits to learn it).
SYNCHRONISING_OPS = {"_local_scalar_dense", "equal", "is_nonzero", "nonzero", "masked_select", "_unique", "_unique2",
                     "unique_dim", "unique_consecutive", "unique_dim_consecutive"}  # fmt: skip


class HostRead(AssertionError):
    pass


class _WatchOps(TorchDispatchMode):
    """Refuses the ATen ops that synchronise (and indexing or repeats by tensors, which do too)."""

    def __init__(self, guard: "NoHostReads"):
        super().__init__()
        self.guard = guard

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = func._schema.name.split("::")[-1]
        overload = func._overloadpacket.__name__
        by_tensor = (overload in ("index", "index_put", "index_put_") and any(
            isinstance(index, torch.Tensor) and index.dtype == torch.bool for index in (args[1] if len(args) > 1 else ()) or ()
        )) or (overload == "repeat_interleave" and isinstance(args[1] if len(args) > 1 else kwargs.get("repeats"), torch.Tensor))  # fmt: skip
        if name in SYNCHRONISING_OPS or by_tensor:
            self.guard.read(f"aten::{name}", aten=True)
        return func(*args, **kwargs)


class NoHostReads:
    """While active, any read of a tensor's value on the host raises HostRead, except within
    ``analogtorch.optim._all_accepted`` (the step's documented decision), where reads are counted."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.monkeypatch = monkeypatch
        self.active = False
        self.allowed = 0  # > 0 within the decision
        self.decisions = 0
        self.decision_reads = 0

    def read(self, what: str, aten: bool = False) -> None:
        if not self.active:
            return
        if self.allowed:
            # Counted once, where Python reads: its ATen op (_local_scalar_dense) is the same read.
            self.decision_reads += not aten
            return
        raise HostRead(f"a host read on the hot path: {what}")

    def _patch(self, owner, name: str) -> None:
        original = getattr(owner, name)

        def patched(*args, **kwargs):
            self.read(f"{getattr(owner, '__name__', owner)}.{name}")
            return original(*args, **kwargs)

        self.monkeypatch.setattr(owner, name, patched)

    @contextlib.contextmanager
    def __call__(self):
        self.decisions = self.decision_reads = 0
        for name in TENSOR_READS:
            self._patch(torch.Tensor, name)
        for name in TORCH_READS:
            self._patch(torch, name)
        decide = analogtorch.optim._all_accepted

        def decision(answers):
            self.decisions += 1
            self.allowed += 1
            try:
                return decide(answers)
            finally:
                self.allowed -= 1

        self.monkeypatch.setattr(analogtorch.optim, "_all_accepted", decision)
        self.active = True
        try:
            with _WatchOps(self):
                yield self
        finally:
            self.active = False
            self.monkeypatch.undo()


@pytest.fixture
def no_host_reads(monkeypatch):
    return NoHostReads(monkeypatch)


def small_model(config, device="cpu") -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        AnalogConv2d(1, 3, 3, config=config), nn.ReLU(), nn.Flatten(),
        AnalogLinear(3 * 4 * 4, 4, config=presets.replace(config, seed=1)),
    ).to(device)  # fmt: skip


def batches(device="cpu"):
    generator = torch.Generator().manual_seed(1)
    return [(torch.randn(8, 1, 6, 6, generator=generator).to(device), (torch.arange(8) % 4).to(device)) for _ in range(STEPS)]


def train(model, optimizer, data, extra=None) -> None:
    for x, labels in data:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), labels)
        loss.backward()
        optimizer.step()
        if extra is not None:
            extra(loss)


def deployed(config, device="cpu") -> nn.Sequential:
    model = small_model(config, device)
    train(model, AnalogSGD(model.parameters(), lr=0.05), batches(device)[:1])
    analogtorch.program(model)
    analogtorch.set_time(model, 3600.0)
    return model.eval()


# --- Python: no value reaches the host ----------------------------------------------------------


@pytest.mark.parametrize("preset", list(PRESETS))
def test_training_steps_read_nothing_back_but_the_step_decision(preset, no_host_reads):
    model = small_model(PRESETS[preset]())
    optimizer = AnalogSGD(model.parameters(), lr=0.05)
    data = batches()
    with no_host_reads() as guard:
        train(model, optimizer, data)
    assert guard.decisions == STEPS and guard.decision_reads == STEPS  # one read per step, in the decision
    assert all(torch.isfinite(p).all() for p in model.parameters())
    if preset == "ambrogio2018_transfers":
        assert analogtorch.analog_stats(model)["0"]["transfers"] == STEPS  # the transfer path ran too


@pytest.mark.parametrize("preset", list(PRESETS))
def test_a_deployed_models_eval_forward_reads_nothing_back(preset, no_host_reads):
    model = deployed(PRESETS[preset]())
    x = batches()[0][0]
    with no_host_reads(), torch.no_grad():
        for _ in range(STEPS):
            y = model(x)
    assert y.shape == (8, 4) and torch.isfinite(y).all()


@pytest.mark.parametrize("preset", ["hardware_aware_noise_every_4", "ambrogio2018", "pcm_only"])
def test_a_resumed_model_reads_nothing_back_either(preset, no_host_reads):
    # A load writes the buffers behind the host mirrors: it reads them once, so that the steps
    # after it read nothing.
    config = PRESETS[preset]()
    trained = small_model(config)
    train(trained, AnalogSGD(trained.parameters(), lr=0.05), batches()[:2])
    model = small_model(config)
    model.load_state_dict(trained.state_dict())
    optimizer = AnalogSGD(model.parameters(), lr=0.05)
    with no_host_reads() as guard:
        train(model, optimizer, batches())
    assert guard.decisions == STEPS


def test_the_guard_catches_a_host_read(no_host_reads):
    model = small_model(presets.ambrogio2018())
    optimizer = AnalogSGD(model.parameters(), lr=0.05)
    data = batches()
    for inserted in (lambda loss: loss.item(), lambda loss: float(loss), lambda loss: bool(loss > 0),
                     lambda loss: torch.equal(loss, loss), lambda loss: loss.detach().reshape(1)[loss.detach().reshape(1) > 0]):  # fmt: skip
        with pytest.raises(HostRead, match="a host read on the hot path"), no_host_reads():
            train(model, optimizer, data[:1], extra=inserted)
    # A second read inside the decision is seen too.
    decide = analogtorch.optim._all_accepted
    analogtorch.optim._all_accepted = lambda answers: decide(answers) and bool(torch.stack(answers).all())
    try:
        with no_host_reads() as guard:
            train(model, optimizer, data[:1])
    finally:
        analogtorch.optim._all_accepted = decide
    assert guard.decisions == 1 and guard.decision_reads == 2


# --- C++: the value checks of the ops make no host read -----------------------------------------


@pytest.mark.parametrize("preset", list(PRESETS))
def test_the_ops_make_no_host_read(preset):
    config = PRESETS[preset]()
    model = small_model(config)
    optimizer = AnalogSGD(model.parameters(), lr=0.05)
    program = deployed(config)
    data = batches()
    before = ops.host_reads()
    train(model, optimizer, data)
    with torch.no_grad():
        program(data[0][0])
    assert ops.host_reads() == before


def test_the_host_read_count_counts():
    v_c = torch.full((4,), 0.5)
    before = ops.host_reads()
    ops.capacitor_leak(v_c, 1e-6)  # a state op checks its values: one read
    assert ops.host_reads() == before + 1
    ops.capacitor_leak(v_c, 1e-6, check_values=False)
    ops.quantize(v_c, analogtorch.make_rng_state(0))  # a read checks none
    assert ops.host_reads() == before + 1
    # A state op still refuses what it is given to write, when it checks.
    with pytest.raises(RuntimeError, match="v_c: expected finite values"):
        ops.capacitor_leak(torch.full((4,), float("nan")), 1e-6)


# --- CUDA: no synchronisation ------------------------------------------------------------------


@contextlib.contextmanager
def cuda_sync_errors(monkeypatch):
    """torch.cuda.set_sync_debug_mode("error"), but within the step's decision."""
    decide = analogtorch.optim._all_accepted
    decisions = []

    def decision(answers):
        torch.cuda.set_sync_debug_mode("default")
        try:
            return decide(answers)
        finally:
            decisions.append(True)
            torch.cuda.set_sync_debug_mode("error")

    monkeypatch.setattr(analogtorch.optim, "_all_accepted", decision)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield decisions
    finally:
        torch.cuda.set_sync_debug_mode("default")
        monkeypatch.undo()


@requires_cuda
@pytest.mark.parametrize("preset", list(PRESETS))
def test_no_synchronisation_on_a_gpu(preset, monkeypatch):
    config = PRESETS[preset]()
    model = small_model(config, "cuda")
    optimizer = AnalogSGD(model.parameters(), lr=0.05)
    program = deployed(config, "cuda")
    data = batches("cuda")
    before = ops.host_reads("cuda")
    with cuda_sync_errors(monkeypatch) as decisions:
        train(model, optimizer, data)
        with torch.no_grad():
            program(data[0][0])
    assert len(decisions) == STEPS and ops.host_reads("cuda") == before
    with pytest.raises(RuntimeError, match="called a synchronizing CUDA operation"), cuda_sync_errors(monkeypatch):
        train(model, optimizer, data[:1], extra=lambda loss: loss.item())  # an inserted read is caught
