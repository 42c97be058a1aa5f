"""Every layer on tiles against its torch twin, conversion of whole models, deployment of converted
Transformers and CNNs, and torch.compile without recompiles."""

import copy
import io
import warnings

import pytest
import torch
from torch import nn

import analogtorch
from analogtorch import AnalogConv1d, AnalogConv2d, AnalogLinear, AnalogLSTM, AnalogMultiheadAttention, presets
from analogtorch.optim import AnalogSGD

PRESETS = {
    "hardware_aware": presets.hardware_aware,
    "ambrogio2018": lambda: presets.ambrogio2018(transfer_every=16),
    "pcm_only": presets.pcm_only,
}


def twin_pairs():
    """(torch module, analog module of the same construction, input) for every layer type."""
    torch.manual_seed(0)
    return {
        "linear": (lambda cfg: nn.Linear(6, 4), torch.randn(3, 2, 6)),
        "conv1d": (lambda cfg: nn.Conv1d(4, 6, 3, stride=2, padding=1, dilation=1, groups=2, padding_mode="circular"), torch.randn(2, 4, 9)),
        "conv2d": (lambda cfg: nn.Conv2d(3, 4, (3, 2), padding="same", dilation=(2, 1)), torch.randn(2, 3, 7, 6)),
        "conv2d_groups": (lambda cfg: nn.Conv2d(4, 6, 3, padding=1, groups=2, bias=False, padding_mode="reflect"), torch.randn(2, 4, 5, 5)),
        "attention": (lambda cfg: nn.MultiheadAttention(8, 2, batch_first=True), torch.randn(2, 5, 8)),
        "attention_kv": (lambda cfg: nn.MultiheadAttention(8, 2, add_bias_kv=True, add_zero_attn=True, kdim=6, vdim=6), None),
        "lstm": (lambda cfg: nn.LSTM(5, 4, num_layers=2, bidirectional=True, batch_first=True), torch.randn(3, 7, 5)),
    }


def run(module, name, x):
    if name == "attention":
        return module(x, x, x, need_weights=True)[0]
    if name == "attention_kv":
        torch.manual_seed(1)
        q, kv = torch.randn(4, 2, 8), torch.randn(6, 2, 6)
        mask = torch.zeros(2, 6, dtype=torch.bool)
        mask[0, -1] = True
        out, weights = module(q, kv, kv, key_padding_mask=mask, need_weights=True)
        return torch.cat([out.flatten(), weights.flatten()])
    if name == "lstm":
        out, (h, c) = module(x)
        return torch.cat([out.flatten(), h.flatten(), c.flatten()])
    return module(x)


@pytest.mark.parametrize("name", list(twin_pairs()))
def test_each_layer_equals_its_torch_twin_under_ideal(name):
    build, x = twin_pairs()[name]
    torch.manual_seed(0)
    digital = build(None)
    analog = analogtorch.convert_to_analog(copy.deepcopy(digital), presets.ideal())
    assert any(isinstance(m, analogtorch.nn.AnalogModule) for m in analog.modules()) or isinstance(analog, analogtorch.nn.AnalogModule)
    if x is not None:
        x = x.clone().requires_grad_()
    x_ref = None if x is None else x.detach().clone().requires_grad_()
    y, y_ref = run(analog, name, x), run(digital, name, x_ref)
    torch.testing.assert_close(y, y_ref, rtol=1e-6, atol=1e-6)
    y.square().sum().backward()
    y_ref.square().sum().backward()
    if x is not None:
        torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-6, atol=1e-6)
    grads = dict(digital.named_parameters())
    for param_name, param in analog.named_parameters():
        torch.testing.assert_close(param.grad, grads[param_name].grad, rtol=1e-5, atol=1e-6, msg=param_name)


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("name", ["conv2d", "conv1d", "attention", "lstm"])
def test_each_layer_trains_resumes_bit_identically_and_reports_its_reads(name, preset):
    build, x = twin_pairs()[name]
    config = PRESETS[preset]()

    def fresh():
        torch.manual_seed(0)
        return analogtorch.convert_to_analog(build(None), config)

    def steps(model, count, optimizer=None):
        optimizer = optimizer or AnalogSGD(model.parameters(), lr=0.05)
        outputs = []
        for step in range(count):
            y = run(model, name, x + 0.01 * step)
            optimizer.zero_grad()
            y.square().mean().backward()
            optimizer.step()
            outputs.append(y.detach())
        return outputs

    uninterrupted = steps(fresh(), 4)
    first = fresh()
    half = steps(first, 2)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    resumed = fresh()
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    rest = [run(resumed, name, x + 0.01 * 2)]  # noqa: F841 (a forward moves the rng; redo from the load)
    buffer.seek(0)
    resumed = fresh()
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    optimizer = AnalogSGD(resumed.parameters(), lr=0.05)
    later = []
    for step in range(2, 4):
        y = run(resumed, name, x + 0.01 * step)
        optimizer.zero_grad()
        y.square().mean().backward()
        optimizer.step()
        later.append(y.detach())
    for a, b in zip(uninterrupted, half + later):
        assert torch.equal(a, b)
    stats = analogtorch.analog_stats(resumed)
    assert all(layer["forward_reads"] > 0 for layer in stats.values())
    if preset != "hardware_aware":
        assert all(layer["updates"] > 0 and layer["examples"] > 0 for layer in stats.values())


def test_conv_reads_one_patch_per_array_read():
    layer = AnalogConv2d(2, 3, 3, stride=2, config=presets.hardware_aware())
    layer.eval()
    layer(torch.randn(4, 2, 9, 9))
    stats = layer.analog_stats()
    assert stats["forward_reads"] == 4 * 4 * 4 and stats["tiles"] == [[3, 18]]
    assert layer.tile_stats()["weight"]["reads_per_example"] == 16


def test_grouped_conv_puts_each_group_on_its_own_array():
    layer = AnalogConv2d(4, 6, 3, groups=2, config=presets.ambrogio2018())
    assert layer.analog_stats()["tiles"] == [[3, 18], [3, 18]]
    held = torch.stack([tile.device_weight() for tile in layer.tiles["weight"]]).view_as(layer.weight)
    assert torch.equal(held, layer.weight.detach())


# --- conversion -----------------------------------------------------------------------------------


class Everything(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.conv1 = nn.Conv1d(4, 4, 2)
        self.norm = nn.BatchNorm2d(4)
        self.embed = nn.Embedding(10, 8)
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 1)
        self.lstm = nn.LSTM(8, 8)
        self.head = nn.Linear(8, 3)


def test_convert_to_analog_converts_every_supported_type_and_reports_the_rest():
    model = Everything()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        analogtorch.convert_to_analog(model, presets.hardware_aware())
    assert isinstance(model.conv, AnalogConv2d) and isinstance(model.conv1, AnalogConv1d)
    assert isinstance(model.lstm, AnalogLSTM) and isinstance(model.head, AnalogLinear)
    layer = model.encoder.layers[0]
    assert isinstance(layer.self_attn, AnalogMultiheadAttention) and isinstance(layer.self_attn.out_proj, AnalogLinear)
    assert isinstance(layer.linear1, AnalogLinear) and isinstance(layer.linear2, AnalogLinear)
    assert model.encoder.use_nested_tensor is False
    report = analogtorch.conversion_report(model)
    converted = {name for name, _, _ in report.converted}
    assert {"conv", "conv1", "lstm", "head", "encoder.layers.0.self_attn", "encoder.layers.0.linear1"} <= converted
    digital = {name: reason for name, _, reason in report.digital}
    assert "lookup table" in digital["embed"] and "vector parameters" in digital["norm"]
    assert "encoder.layers.0.norm1" in digital
    assert "self_attn" in str(report) and "tiles [[8, 8], [8, 8], [8, 8], [8, 8]]" in str(report)


@pytest.mark.parametrize("module", [nn.Conv3d(1, 2, 3), nn.GRU(4, 4), nn.LazyLinear(3), nn.LSTM(4, 4, proj_size=2), nn.Bilinear(3, 3, 2)],
                         ids=["conv3d", "gru", "lazy", "lstm_proj", "bilinear"])  # fmt: skip
def test_an_unconvertible_weight_matrix_is_an_error_unless_excluded_or_allowed(module):
    model = nn.Sequential(nn.Linear(4, 4), module)
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError, match=r"model: 1 \(.*\) holds a weight matrix that cannot go on analog tiles"):
        analogtorch.convert_to_analog(model, presets.hardware_aware())
    assert type(model[0]) is nn.Linear  # a refused conversion converts nothing
    assert all(torch.equal(value, before[key]) for key, value in model.state_dict().items() if key.startswith("0."))
    analogtorch.convert_to_analog(model, presets.hardware_aware(), exclude=["1"])
    assert isinstance(model[0], AnalogLinear) and type(model[1]) is type(module)
    other = nn.Sequential(nn.Linear(4, 4), copy.deepcopy(module))
    analogtorch.convert_to_analog(other, presets.hardware_aware(), on_unsupported="digital")
    assert "unsupported, left digital" in str(analogtorch.conversion_report(other))


def test_convert_to_analog_refuses_bad_arguments():
    model = nn.Sequential(nn.Linear(4, 4))
    with pytest.raises(ValueError, match="on_unsupported: expected one of"):
        analogtorch.convert_to_analog(model, presets.ideal(), on_unsupported="skip")
    with pytest.raises(TypeError, match="exclude: expected an iterable of module names, got a str"):
        analogtorch.convert_to_analog(model, presets.ideal(), exclude="0")
    with pytest.raises(TypeError, match="config: expected an analogtorch.presets.AnalogConfig"):
        analogtorch.convert_to_analog(model, "hardware_aware")
    with pytest.raises(TypeError, match="AnalogConfig: build one of its tile kinds"):
        analogtorch.AnalogConfig()
    assert type(model[0]) is nn.Linear


# --- deployment of converted models: no analog weight is bypassed ---------------------------------


def small_cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 3 * 3, 5))


def encoder_layer():
    torch.manual_seed(0)
    return nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True)


@pytest.mark.parametrize("build, shape", [(encoder_layer, (3, 6, 16)), (small_cnn, (2, 1, 12, 12))], ids=["transformer", "cnn"])
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_a_programmed_model_a_year_on_differs_from_digital_and_counts_every_read(build, shape, training):
    digital = build().train(training)
    analog = analogtorch.convert_to_analog(copy.deepcopy(digital), presets.hardware_aware())
    analogtorch.program(analog)
    analogtorch.set_time(analog, 3.15e7)
    x = torch.randn(*shape)
    with torch.no_grad():
        y, y_digital = analog(x), digital(x)
    assert y.shape == y_digital.shape and not torch.equal(y, y_digital)
    assert (y - y_digital).abs().max() > 1e-3
    stats = analogtorch.analog_stats(analog)
    assert stats and all(layer["forward_reads"] > 0 for layer in stats.values()), stats


def test_a_programmed_model_refuses_training_until_unprogrammed():
    model = analogtorch.convert_to_analog(nn.Sequential(nn.Linear(4, 3)), presets.ambrogio2018())
    analogtorch.program(model)
    with pytest.raises(RuntimeError, match=r"programmed for inference and cannot train.*analogtorch.unprogram\(model\)"):
        model(torch.randn(2, 4))
    with torch.no_grad():
        model(torch.randn(2, 4))  # evaluation is fine
    analogtorch.unprogram(model)
    model(torch.randn(2, 4)).sum().backward()
    assert model[0].weight.grad is not None


def test_convert_to_digital_of_a_programmed_model_holds_the_drifted_weights():
    model = analogtorch.convert_to_analog(nn.Sequential(nn.Linear(8, 4)), presets.hardware_aware())
    trained = model[0].weight.detach().clone()
    analogtorch.program(model)
    analogtorch.set_time(model, 3.15e7, drift_compensation=False)
    drifted = model[0].effective_weight()
    back = analogtorch.convert_to_digital(model)
    assert torch.equal(back[0].weight, drifted) and not torch.equal(drifted, trained)


def test_set_time_is_all_or_nothing_and_refuses_absurd_times():
    model = analogtorch.convert_to_analog(nn.Sequential(nn.Linear(8, 4), nn.Linear(4, 2)), presets.hardware_aware())
    analogtorch.program(model)
    analogtorch.set_time(model, 60.0)
    before = copy.deepcopy(model.state_dict())
    for bad in (1e300, 1e30, float("nan"), -1.0):
        with pytest.raises(ValueError, match="seconds: expected a number of seconds in"):
            analogtorch.set_time(model, bad)
    with pytest.raises(ValueError, match="drift_compensation: expected"):
        analogtorch.set_time(model, 10.0, drift_compensation="no")
    after = model.state_dict()
    assert all(torch.equal(after[key], value) for key, value in before.items() if isinstance(value, torch.Tensor))


# --- dtypes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_analog_layers_return_the_input_dtype_and_keep_float32_devices(dtype):
    model = nn.Sequential(nn.Linear(6, 5), nn.Linear(5, 3)).to(dtype)
    analogtorch.convert_to_analog(model, presets.ambrogio2018(), exclude=["1"])
    assert model[0].weight.dtype == torch.float32
    y = model(torch.randn(4, 6, dtype=dtype))  # the digital layer after it gets its own dtype
    assert y.dtype == dtype
    with pytest.warns(UserWarning, match="its devices and weights stay float32"):
        model.double()
    assert model[0].weight.dtype == torch.float32 and model[1].weight.dtype == torch.float64
    assert model(torch.randn(4, 6, dtype=torch.float64)).dtype == torch.float64


# --- torch.compile: one compile, no recompiles, no graph breaks inside a layer ------------------


@pytest.mark.parametrize("preset", ["ideal", "hardware_aware", "ambrogio2018", "pcm_only"])
def test_compiled_training_compiles_once(preset):
    import torch._dynamo.testing

    config = {"ideal": presets.ideal, **PRESETS}[preset]()
    torch.manual_seed(0)
    model = nn.Sequential(AnalogConv2d(1, 3, 3, config=config), nn.ReLU(), nn.Flatten(), AnalogLinear(3 * 4 * 4, 4, config=config))
    counter = torch._dynamo.testing.CompileCounterWithBackend("aot_eager")
    torch._dynamo.reset()
    compiled = torch.compile(model, backend=counter)
    optimizer = AnalogSGD(model.parameters(), lr=0.05)
    x = torch.randn(8, 1, 6, 6)
    labels = torch.arange(8) % 4
    for step in range(20):
        loss = nn.functional.cross_entropy(compiled(x), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step == 0:
            # The first compile may restart its analysis once (float specialisation); it is one graph.
            compiled_frames = counter.frame_count
    assert counter.frame_count == compiled_frames, f"{counter.frame_count - compiled_frames} recompiles in 19 steps"
    explained = torch._dynamo.explain(model)(x)
    assert (explained.graph_count, explained.graph_break_count) == (1, 0), explained.break_reasons
    for layer in (AnalogConv2d(1, 3, 3, config=config), AnalogLinear(6, 4, config=config)):
        torch._dynamo.reset()
        inputs = torch.randn(2, 1, 6, 6) if isinstance(layer, AnalogConv2d) else torch.randn(2, 6)
        torch.compile(layer, backend="aot_eager", fullgraph=True)(inputs).sum().backward()


def test_the_ops_namespace_is_importable_and_holds_ops_only():
    import importlib

    module = importlib.import_module("analogtorch.ops")
    from analogtorch.ops import pcm_read  # noqa: F401

    public = {name for name in dir(module) if not name.startswith("_")}
    assert public == set(module.__all__) and {"torch", "importlib", "warnings"}.isdisjoint(public)
    assert analogtorch.ops is module


def test_presets_take_their_fields_as_keywords():
    assert presets.hardware_aware(device_noise_every=16).device_noise_every == 16
    assert presets.hardware_aware(out_noise=0.02).periphery.out_noise == 0.02
    assert presets.ambrogio2018(transfer_every=100, gain_f=2.0).unit_cell.gain_f == 2.0
    assert presets.pcm_only(update_amplitude=0.1).update_amplitude == 0.1
    with pytest.raises(TypeError, match="device_noise_every: not a field of UnitCellConfig"):
        presets.ambrogio2018(device_noise_every=4)


@pytest.mark.parametrize("preset", ["ideal", "hardware_aware", "hw_aware/4", "ambrogio2018", "pcm_only", "deployed"])
def test_forward_and_backward_never_read_a_tensor_back_to_the_host(preset, monkeypatch):
    # On CUDA a host read is a synchronisation: the hot path must not have any. The CPU proves it by
    # construction: every way of reading a tensor's value into Python fails during forward and backward.
    configs = {"ideal": presets.ideal(), "hw_aware/4": presets.hardware_aware(device_noise_every=4),
               "deployed": presets.hardware_aware(), **{name: build() for name, build in PRESETS.items()}}  # fmt: skip
    torch.manual_seed(0)
    model = nn.Sequential(AnalogConv2d(1, 3, 3, config=configs[preset]), nn.ReLU(), nn.Flatten(),
                          AnalogLinear(3 * 4 * 4, 4, config=configs[preset]))  # fmt: skip
    if preset == "deployed":
        analogtorch.program(model)
        analogtorch.set_time(model, 3600.0)
        model.eval()
    x = torch.randn(8, 1, 6, 6)
    model(x)  # caches (read-noise variances, drifted weights) are filled once, after loads and moves

    def refuse(*args, **kwargs):
        raise AssertionError("a host read of a tensor on the hot path")

    for name in ("item", "tolist", "__int__", "__float__", "__bool__", "__index__"):
        monkeypatch.setattr(torch.Tensor, name, refuse)
    for _ in range(5):
        y = model(x)
        if preset != "deployed":
            y.square().mean().backward()


def test_lstm_projection_and_abstract_tiles_are_refused_by_name():
    with pytest.raises(ValueError, match=r"proj_size: expected 0 \(AnalogLSTM has no projection of the hidden state\), got 2"):
        AnalogLSTM(4, 4, proj_size=2)
    with pytest.raises(TypeError, match="abstract"):
        analogtorch.tiles.InSituTile(2, 2, presets.ambrogio2018())
