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
    state["2.g_plus_us"] = state["2.g_plus_us"].clone().fill_(float("nan"))
    before = snapshot(model)
    with pytest.raises(ValueError, match=r"2.g_plus_us: expected finite values"):
        load_state_dict(model, state)
    assert_unchanged(model, before)


def corrupt(name, value):
    def change(state):
        state[name] = value(state[name]) if callable(value) else value

    return change


def corrupt_extra(field, value):
    def change(state):
        extra = dict(state["0._extra_state"])
        extra[field] = value
        state["0._extra_state"] = extra

    return change


@pytest.mark.parametrize(
    "change, message",
    [
        (corrupt("0.g_plus_us", lambda t: t.clone().fill_(float("nan"))), "0.g_plus_us: expected finite values in"),
        (corrupt("0.g_minus_us", lambda t: t + 100.0), "0.g_minus_us: expected finite values in [0.0, 25.0]"),
        (corrupt("0.g_plus_us", lambda t: -t - 1.0), "0.g_plus_us: expected finite values in [0.0, 25.0]"),
        (corrupt("0.v_c", lambda t: t + 5.0), "0.v_c: expected finite values in [0.0, 1.0]"),
        (corrupt("0.v_c", lambda t: t.double()), "0.v_c: expected a torch.float32 tensor of shape [10, 12]"),
        (corrupt("0.variation", lambda t: t[..., :2]), "0.variation: expected a torch.int8 tensor of shape [10, 12, 3]"),
        (corrupt("0.rng_state", lambda t: t.int()), "0.rng_state: expected a torch.int64 tensor of shape [2]"),
        (corrupt("0.rng_state", torch.zeros(3, dtype=torch.int64)), "0.rng_state: expected a torch.int64 tensor"),
        (corrupt("0.weight", lambda t: t + 1e-3), "0.weight: does not match the weights its devices hold"),
        (corrupt("0._extra_state", "garbage"), "expected AnalogLinear state of format 2"),
        (corrupt_extra("format", 1), "expected AnalogLinear state of format 2"),
        (corrupt_extra("config", {"mode": "in_situ"}), "expected an AnalogLinear config with the fields"),
        (corrupt_extra("polarity", 0), "polarity 0 (expected +1 or -1)"),
        (corrupt_extra("scale_us_per_unit", float("nan")), "scale_us_per_unit nan"),
        (corrupt_extra("pending_examples", -4), "pending_examples -4"),
        (corrupt_extra("time_since_programming_s", float("inf")), "time_since_programming_s inf"),
        (corrupt_extra("counters", {"pulses": 1}), "counters {'pulses': 1}"),
        (corrupt_extra("device_noise", {"deviation": torch.zeros(3)}), "(expected deviation, variance, bound, forwards)"),
        (
            corrupt_extra("device_noise", {"deviation": torch.zeros(2, 2), "variance": None, "bound": torch.tensor(1.0), "forwards": 0}),
            "device_noise.deviation (expected a float32 tensor of shape [10, 12])",
        ),
        (
            corrupt_extra("device_noise", {"deviation": torch.zeros(10, 12), "variance": -torch.ones(10, 12), "bound": torch.tensor(1.0), "forwards": 0}),
            "device_noise.variance (expected finite values >= 0.0)",
        ),
        (
            corrupt_extra("device_noise", {"deviation": torch.zeros(10, 12), "variance": None, "bound": torch.tensor(1.0), "forwards": -1}),
            "device_noise.forwards -1 (expected an int >= 0)",
        ),
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
    assert resumed[0]._deployed["time_s"] == 86400.0
    assert all(torch.equal(resumed(x), y) for y in expected)
    analogtorch.set_time(resumed, 3.156e7)  # and it drifts on from there
    assert not torch.equal(resumed(x), expected[0])


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("g_plus", lambda t: t + 100.0, "deployed g_plus (expected finite values in [0.0, 25.0])"),
        ("nu_minus", lambda t: t[:1], "deployed nu_minus (expected a float32 tensor of shape [10, 12])"),
        ("time_s", lambda v: -1.0, "deployed time_s -1.0"),
        ("pcm", lambda v: {**v, "g_max_us": -1.0}, "deployed pcm (g_max_us: expected"),
    ],
)
def test_a_corrupted_deployment_is_refused(field, value, message):
    model = mlp(presets.hardware_aware())
    analogtorch.program(model)
    state = copy.deepcopy(model.state_dict())
    deployed = dict(state["0._extra_state"]["deployed"])
    deployed[field] = value(deployed[field])
    state["0._extra_state"] = {**state["0._extra_state"], "deployed": deployed}
    fresh = mlp(presets.hardware_aware(), seed=4)
    before = snapshot(fresh)
    with pytest.raises(ValueError, match=re.escape(message)):
        fresh.load_state_dict(state)
    assert_unchanged(fresh, before)
    assert fresh[0]._deployed is None
