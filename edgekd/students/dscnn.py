"""DS-CNN keyword-spotting students (Zhang et al. 2017, "Hello Edge"), sizes S, M and L.

Layer settings are the ones the paper's code trains (ARM ML-KWS-for-MCU ``--model_size_info``):

========  ========  ====================  ======================================
size      channels  first conv (k, s)     depthwise-separable blocks (3x3)
========  ========  ====================  ======================================
s         64        10x4, stride 2x2      4, all stride 1
m         172       10x4, stride 2x1      4, the first with stride 2x2
l         276       10x4, stride 2x1      5, the first with stride 2x2
========  ========  ====================  ======================================

The input is ``C x T x F`` (time rows, frequency columns; 1 x 49 x 10 MFCC in the paper) and any
``C``, ``T`` and ``F`` work.

Padding: the paper's TensorFlow code pads the even 10x4 first conv 'SAME' (asymmetric). Torch
convs pad symmetrically, and an explicit ``ZeroPad2d`` exports (legacy ONNX exporter) as a Pad
fed by an unfoldable Slice/Concat/Cast subgraph that int8 quantizers and converters handle
poorly. So the first conv uses the symmetric padding whose output is closest to 'SAME'
(``ceil(n / stride)``), the smaller padding on a tie: at 49x10 the S model matches 'SAME'
exactly (25x5); M and L, whose frequency stride is 1, get 25x9 instead of 25x10. MACs at
1 x 49 x 10: 2.66 M (S), 9.65 M (M), 28.0 M (L), i.e. 5.3 / 19.3 / 56.1 M ops against the paper's
5.4 / 19.8 / 56.9 M (the paper counts a MAC as two operations; BN and activations make the rest).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .blocks import ConvBNAct, DepthwiseSeparable, init_weights
from .registry import check_option, register_student

# size -> (channels, first-conv stride, strides of the DS blocks)
DSCNN_SIZES = {
    "s": (64, (2, 2), ((1, 1),) * 4),
    "m": (172, (2, 1), ((2, 2),) + ((1, 1),) * 3),
    "l": (276, (2, 1), ((2, 2),) + ((1, 1),) * 4),
}
FIRST_KERNEL = (10, 4)


def near_same_padding(size: int, kernel: int, stride: int) -> int:
    """Symmetric padding whose conv output is closest to TF 'SAME' (``ceil(size / stride)``).

    Ties go to the smaller padding (fewer MACs, no output row made mostly of padding).
    """
    target = math.ceil(size / stride)

    def out(p: int) -> int:
        return (size + 2 * p - kernel) // stride + 1

    return min((p for p in range(kernel) if out(p) >= 1), key=lambda p: (abs(out(p) - target), p), default=kernel)


class DSCNN(nn.Module):
    """DS-CNN: first conv -> depthwise-separable blocks -> global average pool -> linear.

    Args:
        num_classes: Output logits.
        input_shape: ``(C, T, F)``; the first conv's padding is chosen for ``(T, F)`` (see the
            module docstring); other sizes still run.
        size: ``s``, ``m`` or ``l``.
        width: Channel multiplier (``round(channels * width)``; 1.0 gives the paper's counts).
        dropout: Dropout before the classifier.
    """

    def __init__(self, num_classes: int, input_shape: tuple[int, int, int], size: str = "s",
                 width: float = 1.0, dropout: float = 0.0):
        super().__init__()
        in_ch, t, f = input_shape
        base, stride, block_strides = DSCNN_SIZES[size]
        ch = max(1, round(base * width))
        padding = (near_same_padding(t, FIRST_KERNEL[0], stride[0]), near_same_padding(f, FIRST_KERNEL[1], stride[1]))
        self.conv1 = ConvBNAct(in_ch, ch, FIRST_KERNEL, stride, activation="relu", padding=padding)
        self.blocks = nn.Sequential(*(DepthwiseSeparable(ch, ch, 3, s, activation="relu") for s in block_strides))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(ch, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(N, C, T, F)`` inputs to ``(N, num_classes)`` logits."""
        x = self.blocks(self.conv1(x))
        return self.classifier(self.dropout(torch.flatten(self.pool(x), 1)))

    def feature_layers(self) -> dict[str, nn.Module]:
        """The first conv, the middle block and the last block, for FitNets hints."""
        mid = len(self.blocks) // 2 - 1
        last = len(self.blocks) - 1
        return {"conv1": self.conv1, f"ds{mid + 1}": self.blocks[mid], f"ds{last + 1}": self.blocks[last]}


@register_student("ds-cnn", "audio",
                  "DS-CNN keyword spotter (Hello Edge) for C x T x F MFCC/log-mel; size s|m|l")
def build_dscnn(num_classes: int, input_shape: tuple[int, int, int], *, size: str = "s", width: float = 1.0,
                dropout: float = 0.0) -> DSCNN:
    """Build a DS-CNN student (see :class:`DSCNN` for the options)."""
    name = "ds-cnn"
    size = size.lower()
    check_option(name, "size", size, size in DSCNN_SIZES, "s, m or l")
    check_option(name, "width", width, 0 < width <= 4, "a number in (0, 4]")
    check_option(name, "dropout", dropout, 0 <= dropout < 1, "a number in [0, 1)")
    return DSCNN(num_classes, input_shape, size, width, dropout)
