"""REMINDER: PLOP plus class-similarity weighted knowledge distillation."""
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F

from clbox.dist import all_reduce_sum
from clbox.models.losses.reminder import class_prototypes, similarity_weights
from clbox.registry import MODELS
from .plop import PLOP

PROTOTYPE_SOURCES = ('decoder', 'backbone')
PIXELS = ('new', 'all')
AVERAGES = ('batch', 'pixel')


@MODELS.register_module()
class REMINDER(PLOP):
    """REMINDER (Phan et al., CVPR 2022, "Class Similarity Weighted Knowledge Distillation
    for Continual Semantic Segmentation"), as its code (github.com/HieuPhan33/REMINDER,
    ``train.py``, ``utils/loss.py``, ``run.py``) runs it by default.

    PLOP's losses (REMINDER's ``--method REMINDER`` is PLOP's options plus ``csw_kd=0.5``,
    ``argparser.py`` lines 58-67) plus CSW-KD (:class:`CSWKDLoss`) after the first step:

    * **Where**: on the pixels of the step's new classes only (``train.py`` lines 435-439).
    * **Weights**: the current batch's prototype of the pixel's (new) class against the old
      classes' prototypes, :func:`similarity_weights` with threshold ``delta / K_old``.
    * **Prototypes**: class means of the decoder output (the 256-channel DeepLab head output
      the classifier reads, ``features['pre_logits']``, ``train.py`` lines 429 and 636;
      ``segmentation_module.py`` lines 165 and 310), upsampled to the labels. The batch
      prototypes come from the model being trained, for the new classes. After each step the
      trained model, in eval mode, goes once over the step's training loader and gives the
      prototypes of the classes that step added (``update_prototypes``, ``train.py`` lines
      628-647; ``run.py`` lines 542-548); the old classes keep theirs (``run.py`` line 547):
      a class's prototype is computed once, at the end of the step that introduced it
      (background: step 0), and never again.

    Reference quirks reproduced by default, each with its corrected variant:

    * ``prototype_average='batch'``: the end-of-step prototype is a running mean of
      per-batch means (every batch in which a class appears counts the same, whatever its
      pixel count, ``train.py`` lines 643-647); ``'pixel'`` averages over pixels.
    * ``CSWKDLoss(teacher_eps=1e-7)``: see :class:`CSWKDLoss`.

    Deliberate differences (not selectable): prototypes are computed from every process's
    batches (the reference keeps each process's own running mean and saves whichever file
    lands last); images of a loader batch are run in groups of equal size, in eval mode,
    without padding (the reference's crops are all 512x512; clbox's ``RandomCrop`` keeps
    smaller images whole, so batches mix sizes), which gives what one batched pass over
    unpadded crops gives; without new-class pixels CSW-KD is 0 (the reference's is NaN).

    Variants of the earlier clbox implementation, selectable: ``prototype_source='backbone'``
    (the last backbone stage), ``pixels='all'`` (every labelled pixel, weights of its own
    class, batch prototypes of all active classes), ``keep_old_prototypes=False``
    (recompute every seen class after every step).

    Args:
        model (dict): The segmentor.
        csw_kd (dict): Defaults to ``dict(type='CSWKDLoss', loss_weight=0.5,
            temperature=3.0)`` (``argparser.py`` line 67; ``utils/loss.py`` line 327).
        delta (float): Similarity weights below ``delta / K_old`` are dropped (``--delta_csw``,
            ``utils/loss.py`` line 357). Defaults to 0.0 (the argparser default,
            ``argparser.py`` lines 297-302, which the VOC scripts keep); the ADE20K scripts
            use 1.0 (``scripts/ade/reminder_100-50.sh`` line 21).
        prototype_source (str): ``'decoder'`` (reference) or ``'backbone'``. Defaults to
            'decoder'.
        pixels (str): ``'new'`` (reference) or ``'all'``. Defaults to 'new'.
        keep_old_prototypes (bool): Defaults to True (reference).
        prototype_average (str): ``'batch'`` (reference) or ``'pixel'``. Defaults to 'batch'.
        prototype_batches (int, optional): Loader batches used for the prototypes after a
            step. Defaults to None (all, as the reference).
        **kwargs: See :class:`PLOP`.
    """

    def __init__(self, model, csw_kd: Optional[dict] = None, delta: float = 0.0,
                 prototype_source: str = 'decoder', pixels: str = 'new',
                 keep_old_prototypes: bool = True, prototype_average: str = 'batch',
                 prototype_batches: Optional[int] = None, **kwargs):
        if 'threshold_scale' in kwargs:
            raise ValueError('REMINDER: threshold_scale was renamed delta (REMINDER\'s '
                             '--delta_csw; 0 on VOC, 1.0 on ADE20K): set model.delta='
                             f'{kwargs["threshold_scale"]!r} instead.')
        super().__init__(model, **kwargs)
        check_choice('prototype_source', prototype_source, PROTOTYPE_SOURCES)
        check_choice('pixels', pixels, PIXELS)
        check_choice('prototype_average', prototype_average, AVERAGES)
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or delta < 0:
            raise ValueError(f'REMINDER: delta must be a number >= 0, got {delta!r} (0 keeps '
                             'every similarity weight, 1.0 drops those below 1 / K_old).')
        if prototype_batches is not None and (not isinstance(prototype_batches, int)
                                              or prototype_batches < 1):
            raise ValueError(f'REMINDER: prototype_batches must be a positive int or None '
                             f'(all batches), got {prototype_batches!r}.')
        if prototype_source == 'decoder' and not hasattr(self.model.decode_head,
                                                         '_forward_feature'):
            raise ValueError(f'REMINDER: prototype_source=\'decoder\' needs a decode head with '
                             f'_forward_feature (pre-logit features); '
                             f'{type(self.model.decode_head).__name__} has none: use '
                             "prototype_source='backbone'.")
        self.csw_kd = MODELS.build(csw_kd or dict(type='CSWKDLoss', loss_weight=0.5,
                                                  temperature=3.0))
        self.delta = float(delta)
        self.prototype_source = prototype_source
        self.pixels = pixels
        self.keep_old_prototypes = bool(keep_old_prototypes)
        self.prototype_average = prototype_average
        self.prototype_batches = prototype_batches
        self.prototypes = torch.zeros(0)

    # ------------------------------------------------------------------ losses
    def prototype_features(self, out: dict) -> torch.Tensor:
        """The map prototypes are taken from (:meth:`segment` output)."""
        return out['decoder'] if self.prototype_source == 'decoder' else out['backbone'][-1]

    def old_prototypes(self) -> torch.Tensor:
        """The (K_old, D) prototypes of the old classes, saved after the previous steps."""
        if self.prototypes.dim() != 2 or self.prototypes.shape[0] < self.num_old:
            raise RuntimeError(
                f'REMINDER needs the prototypes of the {self.num_old} old classes, computed '
                f'at the end of each step, but has {tuple(self.prototypes.shape)}. Start '
                'step N from a REMINDER checkpoint of step N-1 (its algorithm state holds '
                'them), not from another method\'s.')
        return self.prototypes[:self.num_old]

    def first_prototype_class(self) -> int:
        """Lowest class whose batch prototype CSW-KD uses."""
        return self.num_old if self.pixels == 'new' else 0

    def extra_losses(self, inputs, out, labels, old):
        protos = self.old_prototypes()
        with torch.no_grad():
            feats = self.prototype_features(out).detach()
            sums, counts = class_prototypes(
                feats, labels, self.num_active, self.ignore_index,
                classes=range(self.first_prototype_class(), self.num_active))
            current = sums / counts.clamp_min(1)[:, None]
            weights = similarity_weights(current, protos.to(current), self.delta)
        mask = labels != self.ignore_index
        if self.pixels == 'new':
            mask = mask & (labels >= self.num_old)
        return dict(loss_cswkd=self.csw_kd(out['logits'], old['logits'], labels, weights,
                                           mask))

    # -------------------------------------------------------------- prototypes
    @torch.no_grad()
    def after_experience(self, experience, dataloader):
        super().after_experience(experience, dataloader)
        first = self.num_old if self.keep_old_prototypes else 0
        classes = list(range(first, self.num_active))
        was_training = self.training
        self.eval()
        try:
            total, norm = self.accumulate_prototypes(dataloader, classes)
        finally:
            self.train(was_training)
        self.prototypes = self.merge_prototypes(total.cpu(), norm.cpu(), first)

    def accumulate_prototypes(self, dataloader, classes: List[int]
                              ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Sums over the loader (and processes) for ``classes``: of per-batch means and
        batch counts (``'batch'``), or of features and pixel counts (``'pixel'``)."""
        total = norm = None
        for b, data in enumerate(dataloader):
            if self.prototype_batches is not None and b >= self.prototype_batches:
                break
            sums, counts = self.batch_prototype_sums(data, classes)
            if self.prototype_average == 'batch':
                present = counts > 0
                sums = torch.where(present[:, None], sums / counts.clamp_min(1)[:, None],
                                   torch.zeros_like(sums))
                counts = present.to(sums.dtype)
            total = sums if total is None else total + sums
            norm = counts if norm is None else norm + counts
        if total is None:  # no batch here; still take part in the sums over processes
            width = (self.model.decode_head.channels if self.prototype_source == 'decoder'
                     else self.prototypes.shape[-1] if self.prototypes.dim() == 2 else 0)
            total = torch.zeros(self.num_active, width, device=self.device_of())
            norm = torch.zeros(self.num_active, device=total.device)
        return all_reduce_sum(total), all_reduce_sum(norm)

    def batch_prototype_sums(self, data: dict, classes: List[int]
                             ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Feature sums and pixel counts of ``classes`` over one collated loader batch,
        its images run in groups of equal size (no padding, eval mode)."""
        sums = counts = None
        for group in split_by_size(data):
            pre = self.data_preprocessor(group, False)
            inputs = pre['inputs']
            labels = pad_labels(self.seg_labels(pre['data_samples'], inputs.device),
                                inputs.shape[-2:], self.ignore_index)
            feats = self.prototype_features(self.segment(inputs))
            s, c = class_prototypes(feats, labels, self.num_active, self.ignore_index,
                                    classes=classes)
            sums, counts = (s, c) if sums is None else (sums + s, counts + c)
        return sums, counts

    def merge_prototypes(self, total: torch.Tensor, norm: torch.Tensor,
                         first: int) -> torch.Tensor:
        """Fresh rows where a class was seen; rows below ``first`` (old classes) and rows of
        classes not seen in the pass keep their previous value (0 if none)."""
        protos = torch.zeros(self.num_active, total.shape[1])
        prev = self.prototypes
        if prev.dim() == 2 and prev.shape[1] == total.shape[1]:
            n = min(prev.shape[0], self.num_active)
            protos[:n] = prev[:n]
        if self.keep_old_prototypes:  # the step's classes: fresh, or 0 (train.py line 172)
            protos[first:] = 0
        fresh = norm > 0
        fresh[:first] = False
        protos[fresh] = total[fresh] / norm[fresh, None]
        return protos

    def device_of(self) -> torch.device:
        return next(self.model.parameters()).device

    # ------------------------------------------------------------------ state
    def algorithm_state(self):
        state = super().algorithm_state()
        state['prototypes'] = self.prototypes
        return state

    def load_algorithm_state(self, state):
        super().load_algorithm_state(state)
        self.prototypes = torch.as_tensor(state.get('prototypes', torch.zeros(0))).float()


def check_choice(key: str, value, choices) -> None:
    """Raise a ValueError naming ``key`` when ``value`` is not one of ``choices``."""
    if value not in choices:
        raise ValueError(f'REMINDER: {key} must be one of {list(choices)}, got {value!r}.')


def split_by_size(data: dict) -> List[dict]:
    """A collated (pseudo_collate) batch cut into sub-batches of equally sized images, in
    order of first appearance."""
    inputs, samples = data['inputs'], data['data_samples']
    if isinstance(inputs, torch.Tensor):  # already stacked: one size
        return [data]
    groups: Dict[tuple, List[int]] = OrderedDict()
    for i, img in enumerate(inputs):
        groups.setdefault(tuple(img.shape[-2:]), []).append(i)
    return [dict(inputs=[inputs[i] for i in idx], data_samples=[samples[i] for i in idx])
            for idx in groups.values()]


def pad_labels(labels: torch.Tensor, size, ignore_index: int) -> torch.Tensor:
    """Labels padded bottom/right with ``ignore_index`` to ``size`` (where the preprocessor
    pads test inputs, as mmseg's ``stack_batch`` does)."""
    dh, dw = size[0] - labels.shape[-2], size[1] - labels.shape[-1]
    if dh < 0 or dw < 0:
        raise ValueError(f'labels {tuple(labels.shape[-2:])} are larger than their inputs '
                         f'{tuple(size)}.')
    if dh or dw:
        labels = F.pad(labels, (0, dw, 0, dh), value=ignore_index)
    return labels
