"""The search space comes from the student registry and the config's overrides."""

import pytest

from edgekd.errors import ConfigError
from edgekd.search.schema import SearchSpace
from edgekd.search.space import candidates, students_for


def test_image_space_uses_every_image_student_and_every_width():
    space = SearchSpace(widths=[0.25, 0.5])
    found = candidates("image", space, "mobilenetv2", {"width": 0.35})
    names = {c.student for c in found}
    assert "ds-cnn" not in names and {"mobilenetv2", "mobilenetv3-small"} <= names
    mv2 = [c for c in found if c.student == "mobilenetv2"]
    # depth 0.5/1.0 x width 0.25/0.5; the searched width replaces student.options' width
    assert sorted((c.options["depth"], c.options["width"]) for c in mv2) == [(0.5, 0.25), (0.5, 0.5),
                                                                              (1.0, 0.25), (1.0, 0.5)]
    assert len({c.key for c in found}) == len(found)


def test_audio_space_includes_dscnn_sizes_and_keeps_configured_options():
    space = SearchSpace(students=["ds-cnn", "mobilenetv2"], widths=[1.0],
                        options={"ds-cnn": {"size": ["s", "m"]}})
    found = candidates("audio", space, "mobilenetv2", {"width": 0.35, "dropout": 0.1})
    assert [c.key for c in found] == ["ds-cnn(size=s,width=1.0)", "ds-cnn(size=m,width=1.0)",
                                      "mobilenetv2(dropout=0.1,width=1.0)"]
    assert "ds-cnn" in students_for("audio", SearchSpace())
    assert "ds-cnn" not in students_for("image", SearchSpace())


@pytest.mark.parametrize("space, word", [(SearchSpace(students=["resnet"]), "resnet"),
                                         (SearchSpace(options={"mobilenetv2": {"depht": [1.0]}}), "depht")])
def test_bad_space_is_a_config_error(space, word):
    with pytest.raises(ConfigError, match=word):
        candidates("image", space, "mobilenetv2", {})
