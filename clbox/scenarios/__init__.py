"""Streams of experiences and the datasets they are cut from."""
from clbox.compat.mmcv_hue import install_adjust_hue_fix
from clbox.compat.mmengine_dataset import fix_subset_copy

fix_subset_copy()  # mmengine's get_subset shares one deep-copy memo per process
install_adjust_hue_fix()  # mmcv's adjust_hue raises under NumPy 2 for negative shifts
from .avalanche import AvalancheExperienceDataset, AvalancheScenario
from .base import BaseScenario, Experience, build_dataset, dataset_labels, subset
from .embedded import ArrayDataset, Digits, FashionMNIST, MNIST
from .incremental import ClassIncremental, DomainIncremental, InstanceIncremental, OnlineStream

__all__ = ['BaseScenario', 'Experience', 'build_dataset', 'dataset_labels', 'subset',
           'ArrayDataset', 'Digits', 'MNIST', 'FashionMNIST', 'ClassIncremental',
           'DomainIncremental', 'InstanceIncremental', 'OnlineStream', 'AvalancheScenario',
           'AvalancheExperienceDataset']
from .clear import CLEAR, CLEARImages  # noqa: E402
from .features import PrecomputedFeatures  # noqa: E402

__all__ += ['CLEAR', 'CLEARImages', 'PrecomputedFeatures']
from .segmentation import (ADESegIncremental, RemapSegLabels, SegFileList,  # noqa: E402,F401
                           SegIncremental, VOCSegIncremental)
from .synthetic_seg import SyntheticSegIncremental, make_synthetic_voc  # noqa: E402,F401
from .core50 import CORe50, CORe50FileList  # noqa: E402,F401
from .stream_sampler import ChunkSampler  # noqa: E402,F401
from .ssl_streams import ImageListStream, KineticsFrames, MemmapImageList  # noqa: E402,F401
from .pseudo_video import PseudoVideoStream  # noqa: E402,F401
from .cssl_streams import ClassSequentialStream, ContinualSplitStream, EpochChunkSampler, SelfSupStream  # noqa: E402,F401,E501
from .soda10m import SODA10M  # noqa: E402,F401
from .sslad import SSLAD3A  # noqa: E402,F401
from .own_data import NumpyDataset, TorchDataset  # noqa: E402,F401
