"""LwF-MC: multi-class LwF with sigmoid outputs and distillation, as iCaRL without
exemplars, the way MiB's benchmark trains it."""
import torch
import torch.nn.functional as F

from clbox.registry import MODELS
from .seg_base import SegContinualAlgorithm
from .seg_regularized import check_choice

CLS_LOSSES = ('bce', 'ce')
PIXEL_MEANS = ('valid', 'all')


def seg_bce_loss(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = 255,
                 pixel_mean: str = 'valid') -> torch.Tensor:
    """MiB's ``BCEWithLogitsLossWithIgnoreIndex`` (``utils/loss.py:31-54``): per pixel, the
    sum over classes of the binary cross-entropy of each logit against the one-hot label;
    ignored pixels count 0.

    ``sum_c BCE(x_c, [c = y]) = sum_c softplus(x_c) - x_y``, computed without the one-hot
    (B, C, H, W) target (3.8 GB at batch 24 on ADE's 151 classes).

    Args:
        logits (Tensor): (B, C, H, W).
        labels (Tensor): (B, H, W) long, ``ignore_index`` for ignored pixels.
        ignore_index (int): Defaults to 255.
        pixel_mean (str): ``'valid'``: the mean over non-ignored pixels; ``'all'``: over
            all B*H*W pixels, what MiB's ``reduction='none'`` followed by ``.mean()``
            (``train.py:27,103,107``) gives. Defaults to 'valid'.

    Returns:
        Tensor: scalar loss.
    """
    check_choice('pixel_mean', pixel_mean, PIXEL_MEANS)
    valid = labels != ignore_index
    target = torch.where(valid, labels, torch.zeros_like(labels))
    picked = logits.gather(1, target.unsqueeze(1)).squeeze(1)
    per_pixel = (F.softplus(logits).sum(1) - picked) * valid
    if pixel_mean == 'all':
        return per_pixel.mean()
    return per_pixel.sum() / valid.sum().clamp_min(1)


@MODELS.register_module()
class LwFMC(SegContinualAlgorithm):
    """LwF-MC (Rebuffi et al., iCaRL, CVPR 2017, arXiv:1611.07725, the no-exemplar
    baseline) as benchmarked by MiB (Cermelli et al., CVPR 2020; github.com/fcdl94/MiB):

    * the classification term is a per-class binary cross-entropy over the active classes
      at *every* step, step 0 included (``--method LWF-MC`` sets ``icarl``, which selects
      ``BCEWithLogitsLossWithIgnoreIndex``: ``argparser.py:19-21``, ``train.py:29-31``;
      :func:`seg_bce_loss`), logged as ``loss_bce``;
    * from step 1, plus ``icarl_importance * C_old * BCEWithLogits(x_old, sigmoid(teacher))``
      over all pixels (``train.py:53-57,109-114``), ``icarl_importance`` = 10
      (``argparser.py:21``; :class:`SegBCEDistillLoss`), logged as ``loss_bce_kd``.

    Args:
        model (dict): The segmentor.
        distill (dict): Defaults to ``dict(type='SegBCEDistillLoss', loss_weight=10.0)``.
        cls_loss (str): ``'bce'`` (MiB) or ``'ce'`` (softmax cross-entropy, the earlier
            clbox variant, logged as ``loss_ce``). Defaults to 'bce'.
        pixel_mean (str): Mean of the BCE over ``'valid'`` or ``'all'`` pixels (see
            :func:`seg_bce_loss`). MiB divides by all pixels of its 512x512 crops, void
            borders included; clbox's crops of small images are padded with the ignore
            label, which MiB's never are, so the default divides by the valid pixels
            instead. Defaults to 'valid'.
        **kwargs: See :class:`SegContinualAlgorithm`.
    """

    needs_teacher = True

    def __init__(self, model, distill: dict = None, cls_loss: str = 'bce',
                 pixel_mean: str = 'valid', **kwargs):
        super().__init__(model, **kwargs)
        check_choice('cls_loss', cls_loss, CLS_LOSSES, "('bce' is MiB's LwF-MC loss)")
        check_choice('pixel_mean', pixel_mean, PIXEL_MEANS)
        self.cls_loss = cls_loss
        self.pixel_mean = pixel_mean
        self.distill = MODELS.build(distill or dict(type='SegBCEDistillLoss', loss_weight=10.0))

    def ce_loss(self, out, labels):
        """The classification term: :func:`seg_bce_loss` (or the base cross-entropy)."""
        if self.cls_loss == 'ce':
            return super().ce_loss(out, labels)
        return seg_bce_loss(out['logits'], labels, self.ignore_index, self.pixel_mean)

    def loss(self, inputs, data_samples):
        losses = super().loss(inputs, data_samples)
        if self.cls_loss == 'bce':
            losses = dict(loss_bce=losses.pop('loss_ce'), **losses)
        return losses

    def extra_losses(self, inputs, out, labels, old):
        return dict(loss_bce_kd=self.distill(out['logits'], old['logits']))
