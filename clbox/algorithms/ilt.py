"""ILT: incremental learning techniques for semantic segmentation."""
from clbox.registry import MODELS
from .seg_base import SegContinualAlgorithm


@MODELS.register_module()
class ILT(SegContinualAlgorithm):
    """ILT (Michieli & Zanuttigh, ICCV Workshops 2019, arXiv:1907.13372): output distillation
    (:class:`SegKDLoss`) plus L2 distillation of the encoder's last feature map
    (:class:`FeatureL2Loss`), both weighted 100 as in MiB/PLOP's scripts
    (``loss_kd=100, loss_de=100``).

    Args:
        model (dict): The segmentor.
        distill (dict): Output distillation. Defaults to ``SegKDLoss`` with weight 100.
        feature_distill (dict): Encoder distillation. Defaults to ``FeatureL2Loss`` with
            weight 100.
        **kwargs: See :class:`SegContinualAlgorithm`.
    """

    needs_teacher = True

    def __init__(self, model, distill: dict = None, feature_distill: dict = None, **kwargs):
        super().__init__(model, **kwargs)
        self.distill = MODELS.build(distill or dict(type='SegKDLoss', loss_weight=100.0))
        self.feature_distill = MODELS.build(
            feature_distill or dict(type='FeatureL2Loss', loss_weight=100.0))

    def extra_losses(self, inputs, out, labels, old):
        return dict(loss_kd=self.distill(out['logits'], old['logits']),
                    loss_de=self.feature_distill(out['backbone'][-1], old['backbone'][-1]))
