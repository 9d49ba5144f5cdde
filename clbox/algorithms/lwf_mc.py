"""LwF-MC: multi-class LwF with sigmoid distillation, as iCaRL without exemplars."""
from clbox.registry import MODELS
from .seg_base import SegContinualAlgorithm


@MODELS.register_module()
class LwFMC(SegContinualAlgorithm):
    """LwF-MC (Rebuffi et al., iCaRL, CVPR 2017, arXiv:1611.07725, the no-exemplar baseline):
    cross-entropy plus binary cross-entropy distillation of the old classes' sigmoid outputs
    (:class:`SegBCEDistillLoss`), weight 10 as in MiB's scripts (``icarl_importance=10``).

    Args:
        model (dict): The segmentor.
        distill (dict): Defaults to ``dict(type='SegBCEDistillLoss', loss_weight=10.0)``.
        **kwargs: See :class:`SegContinualAlgorithm`.
    """

    needs_teacher = True

    def __init__(self, model, distill: dict = None, **kwargs):
        super().__init__(model, **kwargs)
        self.distill = MODELS.build(distill or dict(type='SegBCEDistillLoss', loss_weight=10.0))

    def extra_losses(self, inputs, out, labels, old):
        return dict(loss_bce_kd=self.distill(out['logits'], old['logits']))
