"""Architecture as data: decisions, arch.json round trip, clear errors naming the label, derive()."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from segnas.errors import SegnasError
from segnas.nas.arch import InputChoice, OpChoice, derive, load_architecture
from segnas.nas.spaces import SPACES, get_space


@pytest.mark.parametrize("name", sorted(SPACES))
def test_arch_json_round_trips(name: str, tmp_path: Path) -> None:
    arch = SPACES[name].random(3, channels=8)
    arch.save(tmp_path / "arch.json")
    back = SPACES[name].check(load_architecture(tmp_path / "arch.json"))
    assert back.values == arch.values and back.settings == arch.settings
    assert str(back) == str(arch) and name in str(back)


def test_labels_read_like_paths() -> None:
    labels = [c.label for c in SPACES["unet"].choices()]
    assert "enc/node2/edge1" in labels and "dec/node3/inputs" in labels
    assert len(labels) == len(set(labels))


@pytest.mark.parametrize("edit, words", [
    (lambda d: d["values"].update({"enc/node0/edge0": "conv7"}), "'enc/node0/edge0' has 'conv7'"),
    (lambda d: d["values"].pop("dec/node3/edge4"), "'dec/node3/edge4' has no value"),
    (lambda d: d["values"].update({"enc/node9/edge0": "conv3"}), "'enc/node9/edge0' is not a decision"),
    (lambda d: d["values"].update({"red/node2/inputs": ["in0", "in0"]}), "'red/node2/inputs'"),
    (lambda d: d.update(space="nested"), "space 'nested'"),
    (lambda d: d.update(format_version=7), "'format_version' is 7"),
    (lambda d: d["settings"].update(channels="wide"), "setting 'channels' must be int"),
])
def test_malformed_arch_json_errors_name_the_label(tmp_path: Path, edit, words: str) -> None:
    d = SPACES["unet"].random(0).to_json()
    edit(d)
    path = tmp_path / "arch.json"
    path.write_text(json.dumps(d))
    with pytest.raises(SegnasError) as e:
        arch = load_architecture(path)
        get_space("unet").check(arch, str(path))
    assert words in str(e.value) and str(path) in str(e.value)


def test_derive_argmax_without_zero_and_top_k_inputs() -> None:
    cands = ("conv3", "identity", "zero")
    choices = [OpChoice("c/node0/edge0", cands), OpChoice("c/node0/edge1", cands), OpChoice("c/node0/edge2", cands),
               InputChoice("c/node0/inputs", ("in0", "in1", "node0"), 2, ("c/node0/edge0", "c/node0/edge1", "c/node0/edge2"))]
    probs = {"c/node0/edge0": [0.1, 0.2, 0.7], "c/node0/edge1": [0.5, 0.4, 0.1], "c/node0/edge2": [0.3, 0.35, 0.35]}
    arch = derive("s", {}, choices, probs)
    assert arch.values["c/node0/edge0"] == "identity"  # zero excluded although most probable
    assert arch.values["c/node0/inputs"] == ["in1", "node0"]  # edge strengths 0.2, 0.5, 0.35
    weighted = derive("s", {}, choices, {**probs, "c/node0/inputs": [0.9, 0.05, 0.05]})
    assert weighted.values["c/node0/inputs"] == ["in0", "in1"]  # PC-DARTS: strength × edge weight


def test_transfer_changes_settings_only() -> None:
    arch = SPACES["unet"].random(1, channels=48, in_channels=4)
    wide = arch.with_settings(channels=68, in_channels=1, num_classes=3)
    assert wide.values == arch.values and wide.settings["channels"] == 68
    SPACES["unet"].network(wide)
