"""A refused call leaves everything as it was: device state, rng state, counters, optimizer state.
And the optimizer is torch.optim.SGD wherever the weights are digital."""

import copy

import pytest
import torch
from torch import nn

import analogtorch
from analogtorch import AnalogConv2d, AnalogLinear, presets
from analogtorch.optim import AnalogSGD

IN_SITU = {"ambrogio2018": presets.ambrogio2018, "pcm_only": presets.pcm_only}
ALL = {"hardware_aware": presets.hardware_aware, **IN_SITU}


def mlp(config, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(AnalogLinear(6, 5, config=config), nn.Sigmoid(), AnalogLinear(5, 3, config=presets.replace(config, seed=1)))


def snapshot(model: nn.Module) -> dict:
    return {key: value.clone() if isinstance(value, torch.Tensor) else copy.deepcopy(value) for key, value in model.state_dict().items()}


def assert_unchanged(model: nn.Module, before: dict) -> None:
    after = model.state_dict()
    assert after.keys() == before.keys()
    for key, value in after.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, before[key]), key
        else:
            assert value == before[key], key


@pytest.mark.parametrize("preset", list(ALL))
def test_a_refused_forward_advances_nothing(preset):
    model = mlp(ALL[preset]()).train()
    model(torch.rand(4, 6)).sum().backward()  # some history first
    before = snapshot(model)
    with pytest.raises(ValueError, match=r"input: expected shape \[\*, 6\], got \[4, 7\]"):
        model(torch.rand(4, 7))
    with pytest.raises(TypeError, match="input: expected a floating-point tensor"):
        model(torch.ones(4, 6, dtype=torch.int64))
    assert_unchanged(model, before)  # rng_state, counters, pending examples


@pytest.mark.parametrize("preset", list(ALL))
def test_a_nan_input_propagates_and_the_step_it_poisons_is_refused_whole(preset):
    # Reads check no values (they read nothing back from the device): NaN in an input reaches
    # that input's outputs as NaN, never as a clipped number, and AnalogSGD's check of the step
    # refuses what it poisoned.
    model = mlp(ALL[preset]()).train()
    optimizer = AnalogSGD(model.parameters(), lr=0.1)
    model(torch.rand(4, 6)).sum().backward()
    optimizer.step()  # some history first
    optimizer.zero_grad()
    bad = torch.rand(4, 6)
    bad[1, 2] = float("nan")
    y = model(bad)
    assert torch.isnan(y[1]).all() and torch.isfinite(y[[0, 2, 3]]).all()
    y.sum().backward()
    before = snapshot(model)
    with pytest.raises(ValueError, match=r"AnalogSGD: the gradient of \d+ parameter\(s\) .* holds NaN or Inf"):
        optimizer.step()
    assert_unchanged(model, before)


@pytest.mark.parametrize("preset", list(ALL))
def test_a_huge_learning_rate_is_refused_whole(preset):
    model = mlp(ALL[preset]())
    optimizer = AnalogSGD(model.parameters(), lr=1e38)
    model(torch.rand(4, 6)).square().sum().backward()
    grads = [p.grad.clone() for p in model.parameters()]
    before = snapshot(model)
    if preset == "hardware_aware":
        optimizer.step()  # digital weights: SGD's arithmetic, as torch.optim.SGD
        return
    with pytest.raises(ValueError, match="AnalogSGD: .* the requested weight change holds NaN or Inf .*nothing was updated"):
        optimizer.step()
    assert_unchanged(model, before)
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads))  # no gradient dropped


@pytest.mark.parametrize("preset", list(ALL))
def test_a_nonfinite_gradient_of_a_digital_parameter_is_refused_or_skipped(preset):
    model = mlp(ALL[preset]())
    model(torch.rand(4, 6)).sum().backward()
    model[2].bias.grad[0] = float("inf")
    before = snapshot(model)
    with pytest.raises(ValueError, match=r"AnalogSGD: the gradient of 1 parameter\(s\) \(0 device-held weight\(s\), 1 digital\) holds NaN or Inf"):
        AnalogSGD(model.parameters(), lr=0.1).step()
    assert_unchanged(model, before)
    optimizer = AnalogSGD(model.parameters(), lr=0.1, momentum=0.0, nonfinite_grads="skip")
    with pytest.warns(UserWarning, match="skipped a step"):
        optimizer.step()
    assert optimizer.skipped_steps == 1 and not optimizer.state
    assert_unchanged(model, before)


@pytest.mark.parametrize("missing", ["v_c", "_extra_state", "g_minus_us"])
def test_a_device_held_weight_never_loads_without_its_devices(missing):
    model = mlp(presets.ambrogio2018())
    state = copy.deepcopy(mlp(presets.ambrogio2018(), seed=3).state_dict())
    del state["0.tiles.weight.0." + missing]
    before = snapshot(model)
    with pytest.raises(ValueError, match=rf"incomplete device state \(missing \['{missing}'\]\)"):
        model.load_state_dict(state, strict=False)
    assert_unchanged(model, before)


@pytest.mark.parametrize("preset", list(ALL))
def test_second_derivatives_are_refused_not_silently_wrong(preset):
    layer = AnalogLinear(6, 3, config=ALL[preset]())
    x = torch.rand(4, 6, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"analog reads: second derivatives \(backward with create_graph=True"):
        torch.autograd.grad(layer(x).sigmoid().sum(), x, create_graph=True)
    (grad,) = torch.autograd.grad(layer(x).sigmoid().sum(), x)  # first derivatives as usual
    assert torch.isfinite(grad).all()


def test_a_refused_set_time_changes_no_layer():
    model = analogtorch.convert_to_analog(nn.Sequential(nn.Linear(6, 4), nn.Linear(4, 2)), presets.hardware_aware())
    analogtorch.program(model)
    analogtorch.set_time(model, 3600.0)
    before = snapshot(model)
    with pytest.raises(ValueError, match="seconds: expected a number of seconds in"):
        analogtorch.set_time(model, 1e300)
    assert_unchanged(model, before)
    # and a checkpoint saved afterwards loads
    fresh = analogtorch.convert_to_analog(nn.Sequential(nn.Linear(6, 4), nn.Linear(4, 2)), presets.hardware_aware())
    fresh.load_state_dict(model.state_dict())


# --- the optimizer: torch.optim.SGD for digital weights ------------------------------------------


@pytest.mark.parametrize("options", [dict(momentum=0.9), dict(momentum=0.9, nesterov=True, weight_decay=1e-3),
                                     dict(momentum=0.5, dampening=0.1, maximize=True)], ids=["momentum", "nesterov", "dampening"])  # fmt: skip
def test_digital_weights_follow_torch_sgd_exactly(options):
    def run(optimizer_class):
        torch.manual_seed(0)
        model = nn.Sequential(AnalogConv2d(1, 2, 3, config=presets.ideal()), nn.Flatten(), AnalogLinear(8, 3, config=presets.ideal()))
        optimizer = optimizer_class(model.parameters(), lr=0.05, **options)
        for step in range(5):
            x = torch.randn(4, 1, 4, 4, generator=torch.Generator().manual_seed(step))
            loss = model(x).square().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return [p.detach().clone() for p in model.parameters()]

    for ours, theirs in zip(run(AnalogSGD), run(torch.optim.SGD)):
        assert torch.equal(ours, theirs)


def test_hardware_aware_weights_take_momentum_like_torch_sgd():
    # Hardware-aware weights are digital: with the noise of the forward fixed by the seed, the same
    # gradients meet the same momentum arithmetic.
    def run(optimizer_class):
        model = mlp(presets.hardware_aware())
        optimizer = optimizer_class(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
        for step in range(3):
            loss = model(torch.rand(4, 6, generator=torch.Generator().manual_seed(step))).square().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return [p.detach().clone() for p in model.parameters()]

    for ours, theirs in zip(run(AnalogSGD), run(torch.optim.SGD)):
        assert torch.equal(ours, theirs)


def test_momentum_on_device_held_weights_is_said_out_loud():
    model = mlp(presets.ambrogio2018())
    with pytest.warns(UserWarning, match=r"momentum applies to digital parameters only; the 2 device-held weight\(s\)"):
        AnalogSGD(model.parameters(), lr=0.1, momentum=0.9)


def test_unit_cell_weight_refuses_second_derivatives():
    from analogtorch import ops

    v_c = torch.full((3,), 0.6, dtype=torch.float64, requires_grad=True)
    g = torch.full((3,), 2.0, dtype=torch.float64)
    variation = torch.zeros((3, 3), dtype=torch.int8)
    weight = ops.unit_cell_weight(g, g.clone(), v_c, variation, 1)
    with pytest.raises(RuntimeError, match=r"unit_cell_weight: second derivatives \(backward with create_graph=True\)"):
        torch.autograd.grad(weight.square().sum(), v_c, create_graph=True)
    weight = ops.unit_cell_weight(g, g.clone(), v_c, variation, 1)
    (grad,) = torch.autograd.grad(weight.square().sum(), v_c)  # once is fine
    assert torch.isfinite(grad).all()


def test_a_write_through_data_is_caught_before_the_next_update():
    model = mlp(presets.ambrogio2018())
    model(torch.rand(4, 6)).sum().backward()
    model[0].weight.data[0, 0] += 0.5  # no version counter sees this
    optimizer = AnalogSGD(model.parameters(), lr=0.1)
    before = snapshot(model)
    with pytest.raises(RuntimeError, match=r"its weight was changed outside the devices \(a write through .data\?\)"):
        optimizer.step()
    assert_unchanged(model, before)


def test_a_parameter_shared_by_two_layers_is_refused():
    first, second = AnalogLinear(4, 4, config=presets.ambrogio2018()), AnalogLinear(4, 4, config=presets.ambrogio2018(seed=1))
    second.weight = first.weight  # the second layer's devices do not hold it
    with pytest.raises(RuntimeError, match="its weight was changed outside the devices"):
        second(torch.rand(2, 4))
