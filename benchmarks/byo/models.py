"""The three third-party-style Keras teachers, built the way their authors build them.

- ``resnet8``: the MLPerf Tiny image-classification reference (a CIFAR ResNet with three
  stacks of one residual block at 16/32/64 filters, 1x1 stride-2 projection shortcuts,
  8x8 average pool, softmax dense). Input: 32x32x3 raw pixels 0..255 as float32, no
  normalisation layer (as the reference feeds them).
- ``ds_cnn``: the MLPerf Tiny keyword-spotting DS-CNN (conv 10x4/2 with 64 filters, four
  depthwise-3x3 + pointwise-64 blocks, dropout, average pool, softmax dense) on 49x10x1 MFCCs.
- ``mobilenet_v1_025_96``: ``keras.applications.MobileNet`` (alpha 0.25, the visual-wake-words
  geometry: 96x96x3 input) with a ``Rescaling(1/127.5, offset=-1)`` layer in front, so the
  saved model eats 0..255 pixels and does the ``mobilenet.preprocess_input`` scaling itself.
"""

from __future__ import annotations

import keras
from keras import layers
from keras.regularizers import l2

WEIGHT_DECAY = 1e-4


def _conv_bn(x, filters: int, kernel, strides=1, relu: bool = True):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", kernel_initializer="he_normal",
                      kernel_regularizer=l2(WEIGHT_DECAY))(x)
    x = layers.BatchNormalization()(x)
    return layers.Activation("relu")(x) if relu else x


def resnet8(num_classes: int = 10) -> keras.Model:
    """MLPerf-Tiny-style ResNet-8 for 32x32x3 inputs in 0..255, softmax output."""
    inputs = keras.Input(shape=(32, 32, 3), name="image")
    x = _conv_bn(inputs, 16, 3)
    for filters, stride in ((16, 1), (32, 2), (64, 2)):
        y = _conv_bn(x, filters, 3, strides=stride)
        y = _conv_bn(y, filters, 3, relu=False)
        if stride != 1:  # projection shortcut when the shape changes (no BN on it, as the reference)
            x = layers.Conv2D(filters, 1, strides=stride, padding="same", kernel_initializer="he_normal",
                              kernel_regularizer=l2(WEIGHT_DECAY))(x)
        x = layers.Activation("relu")(layers.add([x, y]))
    x = layers.AveragePooling2D(pool_size=int(min(x.shape[1:3])))(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(num_classes, activation="softmax", kernel_initializer="he_normal")(x)
    return keras.Model(inputs, outputs, name="resnet8")


def ds_cnn(num_classes: int = 10, frames: int = 49, coefficients: int = 10, filters: int = 64) -> keras.Model:
    """MLPerf-Tiny-style DS-CNN on ``[frames, coefficients, 1]`` MFCCs, softmax output."""
    inputs = keras.Input(shape=(frames, coefficients, 1), name="mfcc")
    reg = l2(WEIGHT_DECAY)
    x = layers.Conv2D(filters, (10, 4), strides=(2, 2), padding="same", kernel_regularizer=reg)(inputs)
    x = layers.Activation("relu")(layers.BatchNormalization()(x))
    x = layers.Dropout(0.2)(x)
    for _ in range(4):
        x = layers.DepthwiseConv2D((3, 3), depth_multiplier=1, padding="same", depthwise_regularizer=reg)(x)
        x = layers.Activation("relu")(layers.BatchNormalization()(x))
        x = layers.Conv2D(filters, (1, 1), padding="same", kernel_regularizer=reg)(x)
        x = layers.Activation("relu")(layers.BatchNormalization()(x))
    x = layers.Dropout(0.4)(x)
    # The reference pools with (frames // 2, coefficients // 2) = (24, 5) over a 25x5 map
    # (stride-2 'same' conv), so the last row is dropped; kept as is.
    x = layers.AveragePooling2D(pool_size=(frames // 2, coefficients // 2))(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="ds_cnn")


def mobilenet_v1_025_96(num_classes: int = 10) -> keras.Model:
    """``keras.applications.MobileNet`` alpha 0.25 at 96x96x3, fed 0..255 pixels, softmax output."""
    inputs = keras.Input(shape=(96, 96, 3), name="image")
    scaled = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="preprocess")(inputs)
    model = keras.applications.MobileNet(input_tensor=scaled, alpha=0.25, weights=None, include_top=True,
                                         classes=num_classes, classifier_activation="softmax")
    return keras.Model(inputs, model.output, name="mobilenet_v1_025_96")


BUILDERS = {"resnet8": resnet8, "ds_cnn": ds_cnn, "mobilenet_v1_025_96": mobilenet_v1_025_96}
