"""Checkpoints: atomic saves, and truncated, corrupted or mismatched states refused with the model
left exactly as it was."""

import copy
import re
import zipfile

import pytest
import torch
from torch import nn

import analogtorch
from analogtorch import AnalogLinear, presets
from analogtorch.checkpoint import load_state_dict
from analogtorch.optim import AnalogSGD


def mlp(config, seed=0, hidden=10):
    torch.manual_seed(seed)
    return nn.Sequential(
        AnalogLinear(12, hidden, config=presets.replace(config, seed=seed)),
        nn.Sigmoid(),
        AnalogLinear(hidden, 3, config=presets.replace(config, seed=seed + 1)),
    )


def train(model, steps, start=0, optimizer=None):
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(256, 12, generator=generator)
    labels = (x @ torch.randn(12, 3, generator=generator)).argmax(1)
    optimizer = optimizer or AnalogSGD(model.parameters(), lr=0.1, momentum=0.5)
    losses = []
    for step in range(start, start + steps):
        i = (step * 8) % 256
        loss = nn.functional.cross_entropy(model(x[i : i + 8]), labels[i : i + 8])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def snapshot(model):
    return copy.deepcopy(model.state_dict())


def assert_unchanged(model, before):
    after = model.state_dict()
    assert after.keys() == before.keys()
    for key, value in after.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, before[key]), key
        else:
            assert value == before[key], key


CONFIGS = [
    presets.ambrogio2018(transfer_every=48),
    presets.pcm_only(),
    presets.hardware_aware(),
    presets.replace(presets.hardware_aware(), device_noise_every=3),  # saved mid-way through a draw's forwards
]
IDS = ["ambrogio2018", "pcm_only", "hardware_aware", "hardware_aware_every_3"]


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_a_checkpoint_resumes_training_bit_identically(tmp_path, config):
    uninterrupted = mlp(config)
    losses = train(uninterrupted, 20)

    first = mlp(config)
    optimizer = AnalogSGD(first.parameters(), lr=0.1, momentum=0.5)
    losses_a = train(first, 10, optimizer=optimizer)
    analogtorch.save_checkpoint(first, tmp_path / "run.pt", extra={"optimizer": optimizer.state_dict()})

    resumed = mlp(config, seed=5)
    resumed_optimizer = AnalogSGD(resumed.parameters(), lr=0.1, momentum=0.5)
    extra = analogtorch.load_checkpoint(resumed, tmp_path / "run.pt")
    resumed_optimizer.load_state_dict(extra["optimizer"])
    losses_b = train(resumed, 10, start=10, optimizer=resumed_optimizer)
    assert losses_a + losses_b == losses


def test_saving_is_atomic_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    model = mlp(presets.ambrogio2018())
    path = tmp_path / "model.pt"
    analogtorch.save_checkpoint(model, path)
    old_bytes = path.read_bytes()

    def save_then_fail(obj, file):
        file.write(b"half a checkpoint")
        raise OSError("disk full")

    train(model, 3)
    monkeypatch.setattr(torch, "save", save_then_fail)
    with pytest.raises(OSError, match="disk full"):
        analogtorch.save_checkpoint(model, path)
    assert path.read_bytes() == old_bytes
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temporary file left behind


def test_save_refuses_a_missing_directory_and_a_non_module(tmp_path):
    with pytest.raises(ValueError, match="path: the directory .* does not exist"):
        analogtorch.save_checkpoint(mlp(presets.ideal()), tmp_path / "nope" / "model.pt")
    with pytest.raises(TypeError, match="model: expected an nn.Module"):
        analogtorch.save_checkpoint({"weight": torch.zeros(1)}, tmp_path / "model.pt")


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip_a_tensor_byte(path):
    # Flip one byte inside a stored tensor's data (zip members are stored uncompressed).
    with zipfile.ZipFile(path) as archive:
        info = max((i for i in archive.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
        header = 30 + len(info.filename.encode()) + len(info.extra)
        offset = info.header_offset + header + info.file_size // 2
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))


def _plain_torch_save(path):
    torch.save({"0.weight": torch.zeros(10, 12)}, path)


def _garbage(path):
    path.write_bytes(b"not a checkpoint at all" * 10)


@pytest.mark.parametrize(
    "damage, message",
    [
        (_truncate, "unreadable"),
        (_flip_a_tensor_byte, "do not match their SHA-256 digest"),
        (_plain_torch_save, "not an analogtorch checkpoint"),
        (_garbage, "unreadable"),
    ],
    ids=["truncated", "flipped_byte", "plain_state_dict", "garbage"],
)
def test_a_damaged_file_is_refused_and_the_model_is_untouched(tmp_path, damage, message):
    path = tmp_path / "model.pt"
    analogtorch.save_checkpoint(mlp(presets.ambrogio2018(), seed=3), path)
    damage(path)
    model = mlp(presets.ambrogio2018())
    before = snapshot(model)
    with pytest.raises(ValueError, match=message):
        analogtorch.load_checkpoint(model, path)
    assert_unchanged(model, before)
    with pytest.raises(ValueError, match="path: no checkpoint file"):
        analogtorch.load_checkpoint(model, tmp_path / "missing.pt")


@pytest.mark.parametrize(
    "other",
    [
        lambda: mlp(presets.ambrogio2018(), hidden=9),  # another shape
        lambda: mlp(presets.ambrogio2018(transfer_every=100)),  # another configuration
        lambda: mlp(presets.pcm_only()),  # another mode
    ],
    ids=["shape", "config", "mode"],
)
def test_a_mismatched_model_is_refused_all_or_nothing(tmp_path, other):
    path = tmp_path / "other.pt"
    analogtorch.save_checkpoint(other(), path)
    model = mlp(presets.ambrogio2018())
    train(model, 2)
    before = snapshot(model)
    with pytest.raises((ValueError, RuntimeError)):
        analogtorch.load_checkpoint(model, path)
    assert_unchanged(model, before)


def test_the_last_layer_refusing_restores_the_first(tmp_path):
    # nn.Module.load_state_dict copies module by module: the first layer would keep the new state.
    model = mlp(presets.ambrogio2018())
    source = mlp(presets.ambrogio2018(), seed=7)
    state = source.state_dict()
    state["2.tiles.weight.0.g_plus_us"] = state["2.tiles.weight.0.g_plus_us"].clone().fill_(float("nan"))
    before = snapshot(model)
    with pytest.raises(ValueError, match=r"2.tiles.weight.0.g_plus_us: expected finite values"):
        load_state_dict(model, state)
    assert_unchanged(model, before)


def corrupt(name, value):
    def change(state):
        state[name] = value(state[name]) if callable(value) else value

    return change


def corrupt_extra(field, value):
    def change(state):
        extra = dict(state["0.tiles.weight.0._extra_state"])
        extra[field] = value
        state["0.tiles.weight.0._extra_state"] = extra

    return change


def drop(name):
    def change(state):
        del state[name]

    return change


T = "0.tiles.weight.0."  # the first layer's tile


@pytest.mark.parametrize(
    "change, message",
    [
        (corrupt(T + "g_plus_us", lambda t: t.clone().fill_(float("nan"))), T + "g_plus_us: expected finite values in"),
        (corrupt(T + "g_minus_us", lambda t: t + 100.0), T + "g_minus_us: expected finite values in [0.0, 25.0]"),
        (corrupt(T + "g_plus_us", lambda t: -t - 1.0), T + "g_plus_us: expected finite values in [0.0, 25.0]"),
        (corrupt(T + "v_c", lambda t: t + 5.0), T + "v_c: expected finite values in [0.0, 1.0]"),
        (corrupt(T + "v_c", lambda t: t.double()), T + "v_c: expected a torch.float32 tensor of shape [10, 12]"),
        (corrupt(T + "variation", lambda t: t[..., :2]), T + "variation: expected a torch.int8 tensor of shape [10, 12, 3]"),
        (corrupt(T + "rng_state", lambda t: t.int()), T + "rng_state: expected a torch.int64 tensor of shape [2]"),
        (corrupt(T + "rng_state", torch.zeros(3, dtype=torch.int64)), T + "rng_state: expected a torch.int64 tensor"),
        (corrupt("0.weight", lambda t: t + 1e-3), "0.weight: does not match the weights its devices hold"),
        (corrupt(T + "_extra_state", "garbage"), "expected the state of a UnitCellTile (format 3)"),
        (corrupt_extra("format", 1), "expected the state of a UnitCellTile (format 3)"),
        (corrupt_extra("config", {"mode": "in_situ"}), "expected a UnitCellTile config with the fields"),
        (corrupt(T + "polarity", torch.tensor(0)), T + "polarity: expected +1 or -1, got 0"),
        (corrupt(T + "polarity", torch.tensor(3)), T + "polarity: expected finite values in [-1, 1]"),
        (corrupt(T + "scale_us_per_unit", torch.tensor(float("nan"), dtype=torch.float64)), T + "scale_us_per_unit: expected finite values"),
        (corrupt(T + "pending_examples", torch.tensor(-4)), T + "pending_examples: expected finite values in [0, 9007199254740992]"),
        (corrupt(T + "pending_examples", torch.tensor(2**62)), T + "pending_examples: expected finite values in [0, 9007199254740992]"),
        (corrupt(T + "examples_since_transfer", torch.tensor(10**18)), T + "examples_since_transfer: expected finite values in [0, 7999]"),
        (corrupt(T + "time_since_programming_s", torch.tensor(float("inf"), dtype=torch.float64)), T + "time_since_programming_s: expected finite"),
        (corrupt(T + "counters", torch.zeros(3, dtype=torch.float64)), T + "counters: expected a torch.float64 tensor of shape [12]"),
        (corrupt(T + "counters", lambda t: t - 1.0), T + "counters: expected finite values in [0.0"),
        (drop(T + "v_c"), "incomplete device state (missing ['v_c'])"),
        (drop(T + "_extra_state"), "incomplete device state (missing ['_extra_state'])"),
    ],
)
def test_a_corrupted_state_dict_is_refused_and_changes_nothing(change, message):
    model = mlp(presets.ambrogio2018())
    state = copy.deepcopy(mlp(presets.ambrogio2018(), seed=2).state_dict())
    change(state)
    before = snapshot(model)
    with pytest.raises(ValueError, match=re.escape(message)):
        model.load_state_dict(state)  # the layer refuses before copying: no transaction needed
    assert_unchanged(model, before)


@pytest.mark.parametrize("config", [presets.hardware_aware(), presets.ambrogio2018()], ids=["hardware_aware", "ambrogio2018"])
def test_a_deployed_model_resumes_at_its_time_after_programming(tmp_path, config):
    model = mlp(config)
    analogtorch.program(model)
    analogtorch.set_time(model, 86400.0)
    analogtorch.save_checkpoint(model, tmp_path / "deployed.pt")
    x = torch.rand(16, 12, generator=torch.Generator().manual_seed(3))
    expected = [model(x) for _ in range(2)]  # fresh read noise each time, from the saved rng position

    resumed = mlp(config, seed=9)  # never programmed
    analogtorch.load_checkpoint(resumed, tmp_path / "deployed.pt")
    assert float(resumed[0].deployed_tiles["weight"][0].time_s) == 86400.0
    assert all(torch.equal(resumed(x), y) for y in expected)
    analogtorch.set_time(resumed, 3.156e7)  # and it drifts on from there
    assert not torch.equal(resumed(x), expected[0])


D = "0.deployed_tiles.weight.0."  # the first layer's deployed tile


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("g_plus_us", lambda t: t + 100.0, D + "g_plus_us: expected finite values in [0.0, 25.0]"),
        ("nu_minus", lambda t: t[:1], D + "nu_minus: expected a torch.float32 tensor of shape [10, 12]"),
        ("time_s", lambda v: torch.tensor(-1.0, dtype=torch.float64), D + "time_s: expected finite values in [0.0, 3200000000.0]"),
        ("_extra_state", lambda v: {**v, "pcm": {**v["pcm"], "g_max_us": -1.0}}, "deployed pcm (g_max_us: expected"),
    ],
)
def test_a_corrupted_deployment_is_refused(field, value, message):
    model = mlp(presets.hardware_aware())
    analogtorch.program(model)
    state = copy.deepcopy(model.state_dict())
    state[D + field] = value(state[D + field])
    fresh = mlp(presets.hardware_aware(), seed=4)
    before = snapshot(fresh)
    with pytest.raises(ValueError, match=re.escape(message)):
        fresh.load_state_dict(state)
    assert_unchanged(fresh, before)
    assert not fresh[0].programmed
