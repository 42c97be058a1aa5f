"""AnalogLinear, AnalogSGD, conversion and deployment: the layer a user touches."""

import copy
import dataclasses
import io
import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import analogtorch
from analogtorch import AnalogLinear, make_rng_state, ops, presets
from analogtorch.optim import AnalogSGD


def mlp(config, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        AnalogLinear(12, 10, config=presets.replace(config, seed=seed)),
        nn.Sigmoid(),
        AnalogLinear(10, 3, config=presets.replace(config, seed=seed + 1)),
    )


def toy_data(n=256, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 12, generator=generator)
    labels = (x @ torch.randn(12, 3, generator=generator)).argmax(1)
    return x, labels


def train(model, steps, batch=8, lr=0.1, data=None, start=0):
    x, labels = toy_data() if data is None else data
    optimizer = AnalogSGD(model.parameters(), lr=lr)
    losses = []
    for step in range(start, start + steps):
        i = (step * batch) % x.shape[0]
        loss = nn.functional.cross_entropy(model(x[i : i + batch]), labels[i : i + batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


# --- ideal: exactly nn.Linear ---------------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
def test_ideal_equals_nn_linear_forward_and_gradients(bias):
    torch.manual_seed(3)
    reference = nn.Linear(17, 9, bias=bias)
    torch.manual_seed(3)
    layer = AnalogLinear(17, 9, bias=bias, config=presets.ideal())
    assert torch.equal(layer.weight, reference.weight)
    x = torch.randn(5, 4, 17)
    y_ref, y = reference(x), layer(x)
    torch.testing.assert_close(y, y_ref, rtol=1e-6, atol=0)
    y_ref.square().sum().backward()
    y.square().sum().backward()
    torch.testing.assert_close(layer.weight.grad, reference.weight.grad, rtol=1e-6, atol=0)
    if bias:
        torch.testing.assert_close(layer.bias.grad, reference.bias.grad, rtol=1e-6, atol=0)


def test_attributes_mirror_nn_linear():
    layer = AnalogLinear(7, 4, bias=False)
    assert (layer.in_features, layer.out_features, layer.bias) == (7, 4, None)
    assert layer.weight.shape == (4, 7)
    assert "in_features=7, out_features=4, bias=False" in repr(layer)


# --- training -------------------------------------------------------------------------------------


@pytest.mark.parametrize("config", [presets.hardware_aware(), presets.ambrogio2018(transfer_every=128)],
                         ids=["hardware_aware", "ambrogio2018"])  # fmt: skip
def test_presets_learn_a_toy_problem(config):
    model = mlp(config)
    losses = train(model, 400)
    assert sum(losses[-40:]) / 40 < 0.7 * sum(losses[:40]) / 40


def test_in_situ_weights_move_only_through_the_devices():
    model = mlp(presets.ambrogio2018(transfer_every=64))
    train(model, 40)  # 320 examples: 5 transfers per layer
    stats = analogtorch.analog_stats(model)
    assert stats["0"]["examples"] == 320 and stats["0"]["transfers"] == 320 // 64
    assert stats["0"]["pulses"] > 0 and stats["0"]["programming_pulses"] > 0
    assert math.isclose(stats["0"]["simulated_seconds"], 320 * 1e-6, rel_tol=1e-9)
    layer = model[0]
    tile = layer.tiles["weight"][0]
    expected = analogtorch.ops.unit_cell_weight(
        tile.g_plus_us, tile.g_minus_us, tile.v_c, tile.variation, int(tile.polarity),
        gain_f=3.0, scale_us_per_unit=float(tile.scale_us_per_unit), v_shared=tile.v_shared,
        variation_shared=tile.variation_shared,
    )  # fmt: skip
    assert torch.equal(layer.weight.detach(), expected)


def test_a_digital_optimizer_on_an_in_situ_layer_is_refused():
    model = mlp(presets.ambrogio2018())
    x, labels = toy_data()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    nn.functional.cross_entropy(model(x[:8]), labels[:8]).backward()
    optimizer.step()
    with pytest.raises(RuntimeError, match="train it with analogtorch.optim.AnalogSGD"):
        model(x[:8])


@pytest.mark.parametrize("layer", [0, 2], ids=["first_layer", "last_layer"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_nonfinite_gradients_are_refused_and_nothing_changes(layer, bad):
    model = mlp(presets.ambrogio2018())
    x, labels = toy_data()
    nn.functional.cross_entropy(model(x[:8]), labels[:8]).backward()
    model[layer].weight.grad[0, 0] = bad
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError, match=r"AnalogSGD: the gradient of 1 parameter\(s\) \(1 device-held weight\(s\), 0 digital\) holds NaN or Inf"):
        AnalogSGD(model.parameters(), lr=0.1).step()
    assert_same_state(model.state_dict(), before)  # devices and digital biases alike


def test_nonfinite_gradients_can_skip_the_step_instead():
    model = mlp(presets.ambrogio2018())
    x, labels = toy_data()
    optimizer = AnalogSGD(model.parameters(), lr=0.1, nonfinite_grads="skip")
    nn.functional.cross_entropy(model(x[:8]), labels[:8]).backward()
    model[2].weight.grad[0, 0] = float("nan")
    before = copy.deepcopy(model.state_dict())
    with pytest.warns(UserWarning, match="skipped a step"):
        optimizer.step()
    assert optimizer.skipped_steps == 1
    assert_same_state(model.state_dict(), before)
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x[:8]), labels[:8]).backward()
    optimizer.step()  # a finite step goes through
    assert optimizer.skipped_steps == 1
    assert not torch.equal(model[0].weight, before["0.weight"])
    with pytest.raises(ValueError, match="nonfinite_grads: expected 'raise' or 'skip'"):
        AnalogSGD(model.parameters(), lr=0.1, nonfinite_grads="ignore")


def assert_same_state(state: dict, expected: dict) -> None:
    assert state.keys() == expected.keys()
    for key, value in state.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, expected[key]), key
        else:
            assert value == expected[key], key


def test_state_dict_resumes_training_bit_identically():
    config = presets.ambrogio2018(transfer_every=48)
    uninterrupted = mlp(config)
    losses = train(uninterrupted, 30)

    first_half = mlp(config)
    losses_a = train(first_half, 15)
    buffer = io.BytesIO()
    torch.save(first_half.state_dict(), buffer)
    buffer.seek(0)
    resumed = mlp(config, seed=0)
    train(resumed, 3)  # a different state, overwritten by the load
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    losses_b = train(resumed, 15, start=15)
    assert losses_a + losses_b == losses


@pytest.mark.parametrize("remap", [False, True])
def test_a_transfer_remaps_weights_that_outgrew_the_pcm_range_or_cuts_them(remap):
    """Weights pushed beyond F * target_clip_us between transfers: with ``remap_at_transfer`` the
    transfer re-maps the layer (its largest weight at half the range) and keeps every weight in
    network units; without it, the largest weights are cut."""
    torch.manual_seed(0)
    config = presets.ambrogio2018(transfer_every=2000, weight_range_fraction=0.9, remap_at_transfer=remap, seed=3)
    layer = AnalogLinear(64, 8, config=config)
    tile = layer.tiles["weight"][0]
    scale = float(tile.scale_us_per_unit)
    optimizer = AnalogSGD(layer.parameters(), lr=1.0)
    x = torch.rand(100, 64)
    # 15 pulses (the most per update) of 0.05 uS away from zero, for 19 updates: the largest
    # weights, at 54 of the pair's 60 uS, ask for about 68 uS; the 20th update (no change) transfers.
    for step in range(20):
        layer(x)
        before = layer.weight.detach().clone()
        layer.weight.grad = -layer.weight.detach().sign() * (0.75 / scale if step < 19 else 0.0)
        layer.bias.grad = None
        optimizer.step()
    assert int(tile.counters[analogtorch.tiles.COUNTERS.index("transfers")]) == 1
    largest = before.abs().max().item()
    assert largest * scale > 3.0 * 20.0 + 5.0  # beyond the pair's range, clearly
    top = before.abs() > 0.95 * largest
    change = (layer.weight.detach() - before)[top].abs() * float(tile.scale_us_per_unit)
    if remap:
        # (the no-change update still leaks the capacitors for 100 us)
        assert float(tile.scale_us_per_unit) == pytest.approx(0.5 * 3.0 * 20.0 / largest, rel=1e-4)
        # In the new mapping, the largest weights moved no more than the others did (the transfer's
        # programming error, about 1 uS on average here).
        moved_others = ((layer.weight.detach() - before)[~top].abs() * float(tile.scale_us_per_unit)).mean().item()
        assert change.mean().item() < 1.2 * moved_others + 0.1 and change.max().item() < 5.0
    else:
        assert float(tile.scale_us_per_unit) == scale
        assert change.min().item() > 5.0  # cut to the pair's range (plus the capacitor's offset)


def test_loading_another_config_or_shape_is_refused_and_changes_nothing():
    model = mlp(presets.ambrogio2018())
    before = copy.deepcopy(model.state_dict())
    other = mlp(presets.ambrogio2018(transfer_every=100))
    with pytest.raises(ValueError, match="another configuration"):
        model.load_state_dict(other.state_dict())
    for key, value in model.state_dict().items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, before[key]), key
    wider = nn.Sequential(AnalogLinear(12, 11, config=presets.ambrogio2018()))
    with pytest.raises((ValueError, RuntimeError)):
        model[0].load_state_dict(wider[0].state_dict())


# --- conversion and deployment --------------------------------------------------------------------


def test_convert_to_analog_keeps_trained_weights_and_back():
    torch.manual_seed(0)
    digital = nn.Sequential(nn.Linear(12, 10), nn.ReLU(), nn.Linear(10, 3))
    reference = copy.deepcopy(digital)
    analog = analogtorch.convert_to_analog(copy.deepcopy(digital), presets.hardware_aware(), exclude=["2"])
    assert isinstance(analog[0], AnalogLinear) and isinstance(analog[2], nn.Linear)
    assert torch.equal(analog[0].weight, reference[0].weight)
    in_situ = analogtorch.convert_to_analog(copy.deepcopy(digital), presets.ambrogio2018())
    # Programmed by program-and-verify: within F * (tolerance + verify noise) / scale of the target.
    layer = in_situ[0]
    error_us = (layer.weight - reference[0].weight).abs().max().item() * float(layer.tiles["weight"][0].scale_us_per_unit)
    assert error_us < 3.0 * (0.5 + 0.5)
    back = analogtorch.convert_to_digital(in_situ)
    assert type(back[0]) is nn.Linear and torch.equal(back[0].weight, layer.weight)
    with pytest.raises(ValueError, match=r"exclude: no module named \['nope'\]"):
        analogtorch.convert_to_analog(copy.deepcopy(digital), presets.ideal(), exclude=["nope"])


def test_drift_with_compensation_keeps_outputs_close():
    torch.manual_seed(0)
    model = nn.Sequential(AnalogLinear(64, 32, config=presets.hardware_aware(out_noise=0.0)))
    model.eval()
    x = torch.rand(256, 64)
    with torch.no_grad():
        reference = model(x)
        analogtorch.program(model)
        errors = {}
        for compensation in (True, False):
            analogtorch.set_time(model, 86400.0 * 365, drift_compensation=compensation)
            errors[compensation] = ((model(x) - reference).norm() / reference.norm()).item()
        analogtorch.set_time(model, 3600.0)
        a, b = model(x), model(x)
    assert errors[True] < 0.5 * errors[False]
    assert not torch.equal(a, b)  # fresh read noise on every forward
    # Two reads an hour after programming differ by the 1/f read noise of Joshi et al. (~10% per read here).
    assert ((a - b).norm() / a.norm()).item() < 0.3


def test_deployed_read_noise_is_that_of_reading_every_device():
    # The deployed forward draws one noise per output from sum_j sigma_ij^2 x_j^2 (one more GEMM).
    # Reading every device with its own 1/f noise, as pcm_read does, must give the same output
    # statistics: per-output mean and variance over 4,000 reads of one input, within 5 standard
    # errors (mean) and 12% (variance; its standard error is 2.2%).
    torch.manual_seed(0)
    config = presets.hardware_aware(out_noise=0.0)
    config = dataclasses.replace(config, periphery=analogtorch.Periphery(in_bits=0, out_bits=0, out_noise=0.0))
    layer = AnalogLinear(32, 6, bias=False, config=config).eval()
    x = torch.rand(1, 32)
    t = 86400.0
    with torch.no_grad():
        analogtorch.program(layer)
        analogtorch.set_time(layer, t, drift_compensation=False)
        gemm = layer(x.expand(4000, 32))  # every row is its own read
        deployed = layer.deployed_tiles["weight"][0]
        pcm = deployed.pcm
        read = {"g_max_us": pcm.g_max_us, "t0_s": pcm.t0_s, "t_read_s": pcm.t_read_s}
        per_device = torch.cat([
            F.linear(x, (ops.pcm_read(deployed.g_plus_us, deployed.nu_plus, make_rng_state(60, step), t, **read)
                         - ops.pcm_read(deployed.g_minus_us, deployed.nu_minus, make_rng_state(61, step), t, **read))
                     / deployed.scale_us_per_unit.float().t())
            for step in range(4000)
        ])  # fmt: skip
    spread = per_device.std(dim=0)
    assert ((gemm.mean(dim=0) - per_device.mean(dim=0)).abs() < 5 * spread * math.sqrt(2 / 4000)).all()
    ratio = gemm.var(dim=0) / per_device.var(dim=0)
    assert ((ratio - 1).abs() < 0.12).all(), ratio
    assert (spread > 0).all()


@pytest.mark.parametrize("requires_grad", [False, True])
def test_in_situ_forward_and_backward_compile_without_graph_breaks(requires_grad):
    # An input that requires grad takes the path of the backward converter (a layer after the first).
    layer = AnalogLinear(12, 5, config=presets.ambrogio2018())
    compiled = torch.compile(layer, backend="aot_eager", fullgraph=True)
    x = torch.rand(4, 12, requires_grad=requires_grad)
    y = compiled(x)
    y.sum().backward()
    assert y.shape == (4, 5) and torch.isfinite(y).all() and torch.isfinite(layer.weight.grad).all()
    if requires_grad:
        assert torch.isfinite(x.grad).all()


def test_hardware_aware_training_forward_compiles_without_graph_breaks():
    layer = AnalogLinear(12, 5, config=presets.hardware_aware())
    compiled = torch.compile(layer, backend="aot_eager", fullgraph=True)
    x = torch.rand(4, 12)
    y = compiled(x)
    y.sum().backward()
    assert y.shape == (4, 5) and torch.isfinite(y).all() and torch.isfinite(layer.weight.grad).all()
    assert not torch.equal(compiled(x), y)  # fresh device noise on every training forward


@pytest.mark.parametrize("preset", [presets.ambrogio2018, presets.pcm_only])
def test_in_situ_reads_carry_pcm_read_noise_forward_and_backward(preset):
    # After 4,000 examples of training (4 ms after the transfer at 1 us per example), the forward
    # read of one input, repeated 4,000 times, spreads as reading every device with its own 1/f
    # noise would (pcm_read, per read): per-output variance within 12% (standard error 2.2%). The
    # transposed read of the backward spreads the input gradient by sum_i sigma_ij^2 grad_y_i^2;
    # the weight gradient is exact.
    ideal_periphery = analogtorch.Periphery(in_bits=0, out_bits=0, out_noise=0.0, backward_like_forward=False)
    config = dataclasses.replace(preset(), periphery=ideal_periphery)
    torch.manual_seed(0)
    layer = AnalogLinear(24, 5, bias=False, config=config)
    optimizer = AnalogSGD(layer.parameters(), lr=0.05)
    for _ in range(8):  # 8 x 500 examples
        optimizer.zero_grad()
        layer(torch.rand(500, 24)).sum().backward()
        optimizer.step()
    tile = layer.tiles["weight"][0]
    pcm, t = tile.pcm, float(tile.time_since_programming_s)
    assert abs(t - 4000 * tile.seconds_per_example_s) < 1e-12
    x = torch.rand(1, 24)
    with torch.no_grad():
        forward = layer(x.expand(4000, 24))
        # The same reads device by device: the weight with each PCM's deviation from its read.
        read = {"g_max_us": pcm.g_max_us, "t0_s": pcm.t0_s, "t_read_s": pcm.t_read_s}
        no_drift = torch.zeros_like(layer.tiles["weight"][0].g_plus_us)
        gain = tile.gain_f / float(layer.tiles["weight"][0].scale_us_per_unit)
        per_device = torch.cat([
            F.linear(x, layer.weight + gain * (
                ops.pcm_read(layer.tiles["weight"][0].g_plus_us, no_drift, make_rng_state(70, step), t, **read) - layer.tiles["weight"][0].g_plus_us
                - ops.pcm_read(layer.tiles["weight"][0].g_minus_us, no_drift, make_rng_state(71, step), t, **read) + layer.tiles["weight"][0].g_minus_us))
            for step in range(4000)
        ])  # fmt: skip
    ratio = forward.var(dim=0) / per_device.var(dim=0)
    assert ((ratio - 1).abs() < 0.12).all(), ratio
    # Backward: grad_y = 1, so the input gradient's noise variance is sum_i sigma_ij^2.
    variance = layer.tiles["weight"][0]._read_variance()
    x_grads, weight_grads = [], []
    for _ in range(2000):
        x_leaf = x.clone().requires_grad_()
        layer.weight.grad = None
        layer(x_leaf).sum().backward()
        x_grads.append(x_leaf.grad[0])
        weight_grads.append(layer.weight.grad.clone())
    x_grads = torch.stack(x_grads)
    assert ((x_grads.mean(0) - layer.weight.sum(0)).abs() < 5 * variance.sum(0).sqrt() / math.sqrt(2000)).all()
    assert ((x_grads.var(0) / variance.sum(0) - 1).abs() < 0.15).all()
    assert all(torch.equal(g, weight_grads[0]) for g in weight_grads)


def test_hardware_aware_draws_a_fresh_device_every_n_forwards():
    # Without read, output and converter noise, forwards between draws see one device: the current
    # clipped weights plus the last draw's deviation, which follows the weights through a step.
    quiet_pcm = analogtorch.PCMDevice(programming="open_loop", read_noise=False)
    config = dataclasses.replace(
        presets.hardware_aware(), device_noise_every=3, pcm=quiet_pcm,
        periphery=analogtorch.Periphery(in_bits=0, out_bits=0, out_noise=0.0, backward_like_forward=False),
    )  # fmt: skip
    torch.manual_seed(0)
    layer = AnalogLinear(16, 4, bias=False, config=config)
    x = torch.rand(2, 16)
    outputs = [layer(x) for _ in range(4)]
    assert torch.equal(outputs[0], outputs[1]) and torch.equal(outputs[1], outputs[2])
    assert not torch.equal(outputs[2], outputs[3])  # the fourth forward draws a fresh device
    deviation = layer.tiles["weight"][0].noise_deviation
    assert deviation.abs().max() > 0
    optimizer = AnalogSGD(layer.parameters(), lr=0.1)
    layer(x).sum().backward()  # second forward of the fourth draw
    optimizer.step()
    bound = layer.tiles["weight"][0].noise_bound
    torch.testing.assert_close(layer(x), F.linear(x, layer.weight.clamp(-bound, bound) + deviation), rtol=0, atol=0)
    with pytest.raises(ValueError, match="device_noise_every: expected an int in"):
        presets.replace(presets.hardware_aware(), device_noise_every=0)


def test_hardware_aware_eval_and_programming_clip_the_weights_as_training_did():
    # A weight far beyond the clip bound (3 standard deviations): training forwards saw it at the
    # bound, so eval reads it there and programming maps the bound, not the outlier, to the
    # programmable range (which sets the conductance scale of the whole array).
    quiet_pcm = analogtorch.PCMDevice(programming="open_loop", read_noise=False, drift=False)
    exact = analogtorch.Periphery(in_bits=0, out_bits=0, out_noise=0.0, backward_like_forward=False)
    config = dataclasses.replace(presets.hardware_aware(), pcm=quiet_pcm, periphery=exact)
    torch.manual_seed(0)
    layer = AnalogLinear(64, 8, bias=False, config=config)
    with torch.no_grad():
        layer.weight[3, 5] = 40 * layer.weight.std()
    bound = 3 * layer.weight.detach().std()
    clipped = layer.weight.detach().clamp(-bound, bound)
    assert (layer.weight.detach().abs() > bound).sum() >= 1
    x = torch.rand(5, 64)
    layer.eval()
    torch.testing.assert_close(layer(x), F.linear(x, clipped), rtol=1e-6, atol=1e-6)
    # The clip passes no gradient beyond the bound, as in training.
    layer.weight.grad = None
    layer(x).sum().backward()
    assert layer.weight.grad[3, 5] == 0 and (layer.weight.grad[0] != 0).all()
    tile = layer.tiles["weight"][0]
    deployed = tile.program(layer.weight.detach())
    unclipped = analogtorch.tiles.DeployedTile.programmed(layer.weight.detach(), tile.config, quiet_pcm)
    # Per array: the largest programmed weight is the bound, so the conductance scale is the
    # outlier's multiple of the bound larger than that of programming the outlier.
    ratio = (deployed.scale_us_per_unit / unclipped.scale_us_per_unit).flatten()
    expected = (layer.weight[3, 5].detach() / bound).double()
    assert expected > 2 and ((ratio / expected - 1).abs() < 1e-5).all(), (ratio, expected)
    programmed_weight, _ = deployed._moments(0.0)
    assert (programmed_weight.abs() <= bound * 1.05).all()


def test_pcm_only_trains_through_its_pairs():
    model = mlp(presets.pcm_only())
    losses = train(model, 400)
    assert sum(losses[-40:]) / 40 < 0.8 * sum(losses[:40]) / 40
    stats = analogtorch.analog_stats(model)["0"]
    assert stats["pulses"] > 0 and stats["transfers"] == 0
    layer = model[0]
    torch.testing.assert_close(layer.weight.detach(), 3.0 * (layer.tiles["weight"][0].g_plus_us - layer.tiles["weight"][0].g_minus_us) / float(layer.tiles["weight"][0].scale_us_per_unit))


def _ddp_worker(rank, world_size, port, results):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)
    try:
        torch.set_num_threads(1)
        model = nn.parallel.DistributedDataParallel(mlp(presets.ambrogio2018(transfer_every=32)))
        x, labels = toy_data(seed=rank)  # each replica sees its own data
        optimizer = AnalogSGD(model.parameters(), lr=0.1)
        for step in range(12):
            i = step * 8
            loss = nn.functional.cross_entropy(model(x[i : i + 8]), labels[i : i + 8])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        results[rank] = {k: v.clone() for k, v in model.module.state_dict().items() if isinstance(v, torch.Tensor)}
    finally:
        dist.destroy_process_group()


def test_ddp_replicas_hold_bit_identical_device_state():
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    manager = mp.Manager()
    results = manager.dict()
    mp.spawn(_ddp_worker, args=(2, port, results), nprocs=2, join=True)
    first, second = results[0], results[1]
    assert first.keys() == second.keys() and "0.tiles.weight.0.v_c" in first
    for key in first:
        assert torch.equal(first[key], second[key]), key


@pytest.mark.parametrize("config", [presets.hardware_aware(), presets.ambrogio2018()], ids=["hardware_aware", "ambrogio2018"])
def test_bfloat16_inputs_under_autocast_compute_in_float32_and_return_bfloat16(config):
    layer = AnalogLinear(12, 5, config=config)
    x = torch.rand(4, 12)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = layer(x.bfloat16())
        y.sum().backward()
    assert y.dtype == torch.bfloat16 and torch.isfinite(y).all() and torch.isfinite(layer.weight.grad).all()


def test_in_situ_training_step_compiles():
    model = mlp(presets.ambrogio2018(transfer_every=32))
    compiled = torch.compile(model, backend="aot_eager")
    x, labels = toy_data()
    optimizer = AnalogSGD(model.parameters(), lr=0.1)
    for step in range(6):
        loss = nn.functional.cross_entropy(compiled(x[step * 8 : step * 8 + 8]), labels[step * 8 : step * 8 + 8])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert math.isfinite(loss.item()) and analogtorch.analog_stats(model)["0"]["transfers"] == 48 // 32


def test_copies_and_pickles_of_an_in_situ_layer_train_through_their_own_devices():
    layer = AnalogLinear(12, 3, config=presets.ambrogio2018())
    copied = copy.deepcopy(layer)
    buffer = io.BytesIO()
    torch.save(layer, buffer)
    buffer.seek(0)
    unpickled = torch.load(buffer, weights_only=False)
    x, labels = toy_data()
    for candidate in (copied, unpickled):
        before = candidate.tiles["weight"][0].v_c.clone()
        nn.functional.cross_entropy(candidate(x[:8]), labels[:8]).backward()
        AnalogSGD(candidate.parameters(), lr=0.5).step()
        assert not torch.equal(candidate.tiles["weight"][0].v_c, before)  # the device moved, not a digital step
        candidate(x[:8])  # and the weight is still the devices' own
    assert torch.equal(layer.tiles["weight"][0].v_c, copied.tiles["weight"][0].v_c.new_full(layer.tiles["weight"][0].v_c.shape, 0.5))  # the original is untouched


def test_initial_programming_keys_devices_like_the_transfer():
    # Device-to-device step factors are fixed per physical device: the initial programming uses
    # device indices 2i / 2i+1, like the transfer kernel, so the same devices keep their factors.
    layer = AnalogLinear(40, 30, config=presets.ambrogio2018())
    target = torch.full((30, 40), 8.0)
    rng = analogtorch.make_rng_state(5)
    pcm = analogtorch.PCMDevice(read_noise=False, set_step_c2c=0.0)
    keyed = analogtorch.ops.pcm_program(target, rng, pcm, device_stride=2, device_offset=1)
    flat = analogtorch.ops.pcm_program(target.flatten().repeat_interleave(2), rng, pcm)
    assert torch.equal(keyed.pulses.flatten(), flat.pulses[1::2])
    assert layer.analog_stats()["programming_iterations"] > 0


def test_examples_counted_only_when_they_reach_an_update():
    layer = AnalogLinear(12, 3, config=presets.ambrogio2018())
    with torch.no_grad():
        layer(torch.rand(8, 12))  # training mode, but no gradient: not an example of training
    assert int(layer.tiles["weight"][0].pending_examples) == 0
    layer(torch.rand(8, 12))
    assert int(layer.tiles["weight"][0].pending_examples) == 8
