"""Factory of edgekd's scratch CNN teacher, so a benchmark can reuse one trained teacher as a torch teacher."""

from edgekd.teachers.scratch import ScratchCNN


def make_model(in_channels: int = 1, num_classes: int = 10, width: int = 32) -> ScratchCNN:
    """The same network ``teacher.kind: scratch-cnn`` trains (weights come from its saved teacher.pt)."""
    return ScratchCNN(in_channels, num_classes, width)
