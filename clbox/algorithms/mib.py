"""MiB: modeling the background."""
from clbox.registry import MODELS
from .seg_base import SegContinualAlgorithm


@MODELS.register_module()
class MiB(SegContinualAlgorithm):
    """MiB (Cermelli et al., CVPR 2020, arXiv:2002.00718).

    After the first step: unbiased cross-entropy (old classes count as background,
    :class:`UnbiasedCrossEntropy`), unbiased distillation (the teacher's background is the
    student's background plus new classes, :class:`UnbiasedKDLoss`, weight 10 on VOC as in
    MiB's scripts, ``loss_kd=10``; MiB uses 100 on ADE20K) and new-class weights initialised
    from the background (``init_new_classes='mib'``).

    Args:
        model (dict): The segmentor.
        unbiased_ce (dict): Defaults to ``dict(type='UnbiasedCrossEntropy')``.
        distill (dict): Defaults to ``dict(type='UnbiasedKDLoss', loss_weight=10.0)``.
        **kwargs: See :class:`SegContinualAlgorithm` (``init_new_classes`` defaults to 'mib').
    """

    needs_teacher = True

    def __init__(self, model, unbiased_ce: dict = None, distill: dict = None, **kwargs):
        kwargs.setdefault('init_new_classes', 'mib')
        super().__init__(model, **kwargs)
        self.unbiased_ce = MODELS.build(unbiased_ce or dict(type='UnbiasedCrossEntropy'))
        self.distill = MODELS.build(distill or dict(type='UnbiasedKDLoss', loss_weight=10.0))

    def ce_loss(self, out, labels):
        if self.num_old == 0:
            return super().ce_loss(out, labels)
        return self.unbiased_ce(out['logits'], labels, self.num_old)

    def extra_losses(self, inputs, out, labels, old):
        return dict(loss_unkd=self.distill(out['logits'], old['logits']))
