"""Learning without Forgetting for segmentation."""
from clbox.registry import MODELS
from .seg_base import SegContinualAlgorithm


@MODELS.register_module()
class SegLwF(SegContinualAlgorithm):
    """LwF (Li & Hoiem, ECCV 2016, arXiv:1606.09282) applied per pixel: cross-entropy plus
    the distillation of the previous model's old-class outputs (:class:`SegKDLoss`). The
    weight 100 is the one of MiB/PLOP's benchmark scripts (``--method LWF``: ``loss_kd=100``).

    Args:
        model (dict): The segmentor.
        distill (dict): Distillation loss config. Defaults to
            ``dict(type='SegKDLoss', loss_weight=100.0)``.
        **kwargs: See :class:`SegContinualAlgorithm`.
    """

    needs_teacher = True

    def __init__(self, model, distill: dict = None, **kwargs):
        super().__init__(model, **kwargs)
        self.distill = MODELS.build(distill or dict(type='SegKDLoss', loss_weight=100.0))

    def extra_losses(self, inputs, out, labels, old):
        return dict(loss_kd=self.distill(out['logits'], old['logits']))
