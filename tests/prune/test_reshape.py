"""A structurally pruned student comes back from its state dict alone (no pickled module)."""

from __future__ import annotations

import pytest
import torch

from edgekd.prune.prune import prune_structured
from edgekd.prune.reshape import fit_to_state_dict
from edgekd.students import build_student
from edgekd.students.registry import list_students

CLASSES = 4


def _shape(name: str) -> tuple[int, int, int]:
    return (1, 20, 12) if name == "ds-cnn" else (3, 32, 32)


@pytest.mark.parametrize("name", [s.name for s in list_students()])
def test_pruned_student_rebuilds_from_weights_only(name, tmp_path):
    torch.manual_seed(0)
    shape = _shape(name)
    pruned = build_student(name, CLASSES, shape).eval()
    prune_structured(pruned, shape, CLASSES, 0.5)
    path = tmp_path / "pruned.pt"
    torch.save(pruned.state_dict(), path)
    state = torch.load(path, weights_only=True)
    with pytest.raises(RuntimeError):  # the registry's network no longer fits the weights as built
        build_student(name, CLASSES, shape).load_state_dict(state)
    rebuilt = fit_to_state_dict(build_student(name, CLASSES, shape), state).eval()
    x = torch.randn(2, *shape)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), pruned(x))


def test_weights_of_another_architecture_are_refused():
    other = build_student("mobilenetv3-small", CLASSES, (3, 32, 32)).state_dict()
    with pytest.raises(RuntimeError):
        fit_to_state_dict(build_student("mobilenetv2", CLASSES, (3, 32, 32)), other)
