"""The Core ML package of a bundle: the measured ``.mlpackage`` made a classifier, with its I/O described.

The build's Core ML artifact outputs raw logits. For an app (and Xcode's model preview) the
package should name its classes and say what its input is, so the bundle's copy is the same
ML program read back from the artifact (``milproto`` loader: same ops, same weights, INT8
weights stay compressed) with a softmax and a ``classify`` op appended by coremltools'
``ClassifierConfig``, and descriptions set. Core ML runs only on Apple devices: on Linux the
result is checked through its spec (:func:`edgekd.export.coreml.inspect_coreml`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..atomic import atomic_path
from ..errors import ConversionError
from ..export._common import first_line, quiet


def classifier_package(source: Path, out: Path, labels: Sequence[str], *, input_description: str,
                       short_description: str, metadata: dict[str, str]) -> None:
    """Write ``out``: the ML program of ``source`` + softmax + class labels, with descriptions.

    Raises:
        ConversionError: coremltools cannot read or rebuild the package.
    """
    with atomic_path(out) as tmp, quiet() as log:
        try:
            model = _classifier(source, list(labels))
            model.input_description[model.get_spec().description.input[0].name] = input_description
            model.output_description["classLabel"] = "the most probable class"
            model.output_description["classLabel_probs"] = "softmax probability of each class"
            model.short_description = short_description
            for key, value in metadata.items():
                model.user_defined_metadata[key] = value
            model.save(str(tmp))
        except Exception as exc:  # coremltools raises many types; the user needs one line
            error: Exception | None = exc
        else:
            error = None
    if error is not None:
        raise ConversionError(f"coreml: cannot make the bundle's classifier package: {first_line(error)}",
                              fmt="coreml", fix="re-export the model; the log says: " + log.text[-200:]) from error


def _classifier(source: Path, labels: list[str]):
    import coremltools as ct
    from coremltools.converters.mil.frontend.milproto.load import load as load_program
    from coremltools.converters.mil.mil import Builder as mb

    spec = ct.utils.load_spec(str(source))
    weights = ct.models.MLModel(str(source), skip_model_load=True).weights_dir
    program = load_program(spec, specification_version=spec.specificationVersion, file_weights_dir=weights)
    main = program.functions["main"]
    with main:
        probabilities = mb.softmax(x=main.outputs[0], axis=-1, name="probabilities")
        main.set_outputs([probabilities])
    # FLOAT32 here only stops the pipeline from adding casts: the program keeps its own precision.
    return ct.convert(program, convert_to="mlprogram", classifier_config=ct.ClassifierConfig(labels),
                      minimum_deployment_target=ct.target.iOS16, compute_precision=ct.precision.FLOAT32,
                      skip_model_load=True)


def class_labels(path: Path) -> list[str]:
    """The class labels stored in a package's ``classify`` op (empty when it is not a classifier)."""
    import coremltools as ct

    spec = ct.utils.load_spec(str(path))
    for function in spec.mlProgram.functions.values():
        for block in function.block_specializations.values():
            for op in block.operations:
                if op.type == "classify":
                    value = op.inputs["classes"].arguments[0].value.immediateValue
                    return [str(label) for item in value.list.values
                            for label in item.immediateValue.tensor.strings.values]
    return []
