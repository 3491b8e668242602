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


def test_resolutions_multiply_the_space_and_name_the_size():
    from edgekd.search.space import Candidate

    space = SearchSpace(students=["mobilenetv2"], widths=[0.5], options={"mobilenetv2": {"depth": [1.0]}},
                        resolutions=[[32, 32], [24, 20]])
    found = candidates("image", space, "mobilenetv2", {})
    assert [c.key for c in found] == ["mobilenetv2(depth=1.0,width=0.5)@32x32",
                                      "mobilenetv2(depth=1.0,width=0.5)@24x20"]
    assert found[1].to_dict() == {"student": "mobilenetv2", "options": {"depth": 1.0, "width": 0.5},
                                  "resolution": [24, 20]}
    assert Candidate.from_dict(found[1].to_dict()) == found[1]
    assert "resolution" not in candidates("image", SearchSpace(widths=[0.5]), "mobilenetv2", {})[0].to_dict()


def test_resolutions_are_refused_for_audio_and_below_four_pixels():
    from pydantic import ValidationError

    with pytest.raises(ConfigError, match="resolutions applies to image data"):
        candidates("audio", SearchSpace(resolutions=[[32, 32]]), "ds-cnn", {})
    for bad in ([], [[3, 32]]):
        with pytest.raises(ValidationError):
            SearchSpace(resolutions=bad)
