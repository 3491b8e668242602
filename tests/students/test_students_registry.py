"""Registry: names, options, defaults and the errors a user sees."""

from __future__ import annotations

import pytest

from edgekd.errors import BadInputError, ConfigError
from edgekd.students import build_student, list_students, register_student, registry


def _error(*args, **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        build_student(*args, **kwargs)
    err = info.value
    assert isinstance(err, BadInputError) and err.fix
    assert "\n" not in err.one_line()
    return err


@pytest.mark.parametrize("typo", ["mobilenet_v2", "MobileNetV2", "mobilenetv22"])
def test_unknown_student_suggests_the_closest(typo):
    err = _error(typo, 10, (3, 32, 32))
    assert "did you mean 'mobilenetv2'?" in err.message
    assert "ds-cnn" in err.fix and "mobilenetv3-small" in err.fix


def test_family_prefix_suggests_every_member():
    err = _error("mobilenet_v3", 10, (3, 32, 32))
    assert "did you mean 'mobilenetv3-large' or 'mobilenetv3-small'?" in err.message


def test_unknown_student_without_close_match_lists_all():
    err = _error("resnet152", 10, (3, 32, 32))
    assert "did you mean" not in err.message and "mobilenetv2" in err.fix


def test_unknown_option_suggests_and_lists_allowed():
    err = _error("mobilenetv2", 10, (3, 32, 32), widht=0.5)
    assert "'widht'" in err.message and "did you mean 'width'?" in err.message
    assert all(opt in err.fix for opt in ("width", "depth", "se", "activation", "dropout"))


@pytest.mark.parametrize(("name", "options"), [
    ("mobilenetv2", {"width": 0}),
    ("mobilenetv2", {"width": -0.5}),
    ("mobilenetv2", {"width": "big"}),
    ("mobilenetv2", {"width": True}),
    ("mobilenetv2", {"width": float("nan")}),
    ("mobilenetv2", {"depth": 0.0}),
    ("mobilenetv2", {"se": "yes"}),
    ("mobilenetv2", {"activation": "gelu"}),
    ("mobilenetv2", {"dropout": 1.0}),
    ("mobilenetv3-small", {"width": 0}),
    ("mobilenetv3-large", {"dropout": -0.1}),
    ("ds-cnn", {"size": "xl"}),
    ("ds-cnn", {"size": 3}),
])
def test_bad_option_values(name, options):
    err = _error(name, 10, (3, 32, 32), **options)
    assert next(iter(options)) in err.message


@pytest.mark.parametrize(("classes", "shape"), [(0, (3, 32, 32)), (2.5, (3, 32, 32)), (10, (32, 32)),
                                                (10, (3, 0, 32)), (10, (3, 32.0, 32))])
def test_bad_classes_or_shape(classes, shape):
    _error("mobilenetv2", classes, shape)


def test_ints_accepted_for_float_options_and_case_of_size():
    model = build_student("mobilenetv2", 10, [3, 16, 16], width=1, depth=1)
    assert model.classifier.out_features == 10
    assert build_student("ds-cnn", 12, (1, 49, 10), size="M").classifier.in_features == 172


def test_list_students_defaults_come_from_builders():
    infos = {info.name: info for info in list_students()}
    assert infos["mobilenetv2"].defaults == {"width": 1.0, "depth": 1.0, "se": False,
                                             "activation": "relu6", "dropout": 0.2}
    assert infos["ds-cnn"].task == "audio" and infos["ds-cnn"].defaults["size"] == "s"
    assert infos["mobilenetv3-small"].to_dict()["defaults"]["width"] == 1.0
    assert all(info.task in ("image", "audio", "any") and info.description for info in infos.values())


def test_register_student_decorator(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @register_student("toy", "any", "a toy")
    def toy(num_classes, input_shape, *, hidden: int = 4):
        import torch.nn as nn
        return nn.Linear(hidden, num_classes)

    assert "toy" in {i.name for i in list_students()}
    assert build_student("toy", 3, (1, 1, 1), hidden=5).in_features == 5
    assert "an integer" in _error("toy", 3, (1, 1, 1), hidden=2.5).message
    with pytest.raises(ValueError):
        register_student("toy", "any", "again")(toy)
    with pytest.raises(ValueError):
        register_student("video", "video", "bad task")
