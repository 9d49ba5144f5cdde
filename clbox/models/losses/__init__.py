"""Losses mmpretrain and mmseg lack, registered so configs can combine them."""
from .distillation import KDLoss
from .mib import UnbiasedCrossEntropy, UnbiasedKDLoss, mib_init_new_classes  # noqa: F401
from .plop import PODLoss, entropy_pseudo_labels, local_pod, median_thresholds  # noqa: F401
from .reminder import CSWKDLoss, class_prototypes, similarity_weights  # noqa: F401
from .seg_distill import FeatureL2Loss, SegBCEDistillLoss, SegKDLoss  # noqa: F401

__all__ = ['KDLoss']
from .class_balanced import (ClassBalancedLoss, CostSensitiveLoss,  # noqa: E402,F401
                             SoftmaxFocalLoss, batch_class_counts)
from .metric_learning import MetricLearningLoss, SoftLabelKLDiv  # noqa: E402,F401
