"""Backbones mmpretrain lacks, and the lower/upper split used by latent replay."""
from .feature_input import FeatureInput
from .mlp import MLP
from .mobilenet_v1 import MobileNetV1
from .split import LayerStep, SplitBackbone, layer_sequence

__all__ = ['FeatureInput', 'MLP', 'MobileNetV1', 'LayerStep', 'SplitBackbone',
           'layer_sequence']
from .small_convnet import SmallConvNet  # noqa: E402,F401
