"""On resume, the distilled student is rebuilt as the searched architecture, not as student.name/options."""

from __future__ import annotations

import io

import torch

from edgekd import atomic
from edgekd.artifact import Artifact
from edgekd.config import load_config
from edgekd.data.bundle import DataBundle, Split
from edgekd.distill.stage import rebuild
from edgekd.progress import NullReporter
from edgekd.stage import BuildContext
from edgekd.students import build_student
from edgekd.targets import load_target


def test_searched_student_is_rebuilt_from_its_recorded_architecture(tmp_path):
    split = Split(torch.randn(4, 1, 8, 8), torch.tensor([0, 1, 2, 3]))
    data = DataBundle(name="tiny", task="image", class_names=("a", "b", "c", "d"), input_shape=(1, 8, 8),
                      train=split, val=split, test=split, representative=split)
    ctx = BuildContext(config=load_config(None), target=load_target("host"), out_dir=tmp_path, data=data,
                       reporter=NullReporter(), threads=1)
    arch = {"student": "mobilenetv3-small", "options": {"width": 0.5}}
    trained = build_student(arch["student"], 4, (1, 8, 8), **arch["options"])
    buffer = io.BytesIO()
    torch.save(trained.state_dict(), buffer)
    path, rel = ctx.artifact_file("student.pt")
    atomic.write_bytes(path, buffer.getvalue())
    art = Artifact(name="student", role="student", format="torch", precision="fp32", path=rel,
                   input_shape=(1, 8, 8), metrics={"architecture": arch})
    model = rebuild(art, ctx)  # the config says mobilenetv2 width 0.35: loading would fail if it were used
    assert type(model).__name__ == type(trained).__name__
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), trained.state_dict().values()))
