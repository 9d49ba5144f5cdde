"""PLOP: pooled outputs distillation and pseudo-labelling."""
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import nn

from clbox.models.losses.plop import (ENTROPY_SCALES, entropy_histogram,
                                      entropy_pseudo_labels, histogram_thresholds,
                                      median_thresholds, pseudo_label_entropy)
from clbox.registry import MODELS
from .seg_base import SegContinualAlgorithm

THRESHOLD_MEDIANS = ('histogram', 'exact')
POD_BACKBONES = ('pre_relu', 'post_relu')
POD_LOGITS = ('small', 'upsampled')


@MODELS.register_module()
class PLOP(SegContinualAlgorithm):
    """PLOP (Douillard et al., CVPR 2021, arXiv:2011.11390), as its code
    (github.com/arthurdouillard/CVPR2021_PLOP: ``train.py``, ``argparser.py`` lines 49-57 for
    ``--method PLOP``, ``scripts/voc``, ``scripts/ade``) runs it by default.

    After the first step:

    * **Local POD** (:class:`PODLoss`) on six maps (``train.py`` lines 407-437): the output
      of every backbone stage *before* its last ReLU (``models/resnet.py`` lines 118-148;
      ``modules/residual.py`` lines 125-137 return the block's pre-activation sum), the
      decoder features (``pre_logits``, ``segmentation_module.py`` line 311) and the logits
      at the decoder's resolution (``sem_logits_small``, lines 301 and 312; ``--pod_logits``),
      new-class logits summed into the background; weights 0.01 / 0.0005 on VOC and 0.001 /
      0.00001 on ADE20K (set in the configs), times ``sqrt(|seen| / |new|)``.
    * **Entropy-based pseudo-labels** (lines 252-293): before training a step the teacher
      goes over the step's data; its entropy on the background pixels, on the reference's
      scale (:func:`reference_entropy`), fills a 100-bin histogram per predicted class, whose
      median as the reference reads it (:func:`histogram_median`, lines 505-589) floored at
      0.001 is the class threshold. During training, old-class pixels the teacher is
      confident about take its class, the others are ignored, and each image's
      cross-entropy is scaled by its share of confident background pixels (``num / (den +
      1e-6)``: 0 for an image without background, line 292). The cross-entropy is averaged
      over all pixels (line 352).
    * New classes initialised from the background (``init_new_classes='mib'``,
      ``--init_balanced``).

    Reference quirks reproduced by default, each with its corrected variant:

    * ``threshold_median='histogram'``: the median routine's running sum adds bin indices,
      not counts (line 568), so its "median" is mostly the first bin holding half of the
      pixels; with the reference's entropy scale every value lies in the first 1-3 bins, so
      the thresholds keep a data-dependent share of the background pixels on VOC (35-78% in
      issue 11's simulation) and all of them on ADE20K (every value in bin 0, threshold
      0.005). ``'exact'`` takes the exact median (it keeps every background entropy of the
      step in memory).
    * ``entropy_scale='reference'``: ``H / (C_old log C_old log C_step)`` (the class-averaged
      entropy divided by ``log`` of two class counts, lines 712-713 and 535);
      ``'normalized'`` is ``H / log C_old`` in [0, 1].

    Variants of the earlier clbox implementation, selectable: ``pod_backbone='post_relu'``
    (the stage outputs after the ReLU, what mmseg's ResNet returns), ``pod_logits=
    'upsampled'`` (the logits at input size, the reference's ``--pod_large_logits``),
    ``no_background_weight=1.0``, and ``PODLoss(region_size='per_axis')``.

    Deliberate differences (not selectable): the thresholds are computed from the whole
    step's dataset in every process (the reference: each process from its own shard, lines
    524-546), with the training pipeline but without the loader's shuffling (the histogram
    does not depend on the order); the model is mmseg's DeepLabV3 at output stride 8 (the
    reference: its own DeepLabV3 at output stride 16 with in-place ABN), so the small logits
    are 1/8 of the input, not 1/16.

    Args:
        model (dict): The segmentor.
        pod (dict): Defaults to ``dict(type='PODLoss')`` (VOC's weights).
        min_threshold (float): Floor of the entropy thresholds (``--threshold 0.001``,
            ``argparser.py`` line 55; ``train.py`` lines 582-584). Defaults to 0.001.
        threshold_median (str): ``'histogram'`` (reference) or ``'exact'``. Defaults to
            'histogram'.
        threshold_bins (int): Histogram bins (``nb_bins``, ``train.py`` line 515). Defaults
            to 100.
        entropy_scale (str): ``'reference'`` or ``'normalized'``. Defaults to 'reference'.
        pod_backbone (str): ``'pre_relu'`` (reference) or ``'post_relu'``. Defaults to
            'pre_relu'. ``'pre_relu'`` needs an mmseg ResNet-like backbone (``res_layers`` of
            blocks with a ``relu``); for the duration of a POD forward it makes the ReLU of
            the last block of each stage out-of-place and records its last input.
        pod_logits (str): ``'small'`` (reference) or ``'upsampled'``. Defaults to 'small'.
        no_background_weight (float): Cross-entropy factor of an image without background
            pixels. Defaults to 0.0 (reference); the earlier clbox value was 1.0.
        threshold_batches (int, optional): Batches of the step's data used for the thresholds.
            Defaults to None (all, as the reference).
        threshold_batch_size (int): Defaults to 8.
        **kwargs: See :class:`SegContinualAlgorithm`.
    """

    needs_teacher = True

    def __init__(self, model, pod: dict = None, min_threshold: float = 0.001,
                 threshold_median: str = 'histogram', threshold_bins: int = 100,
                 entropy_scale: str = 'reference', pod_backbone: str = 'pre_relu',
                 pod_logits: str = 'small', no_background_weight: float = 0.0,
                 threshold_batches: Optional[int] = None, threshold_batch_size: int = 8,
                 **kwargs):
        kwargs.setdefault('init_new_classes', 'mib')
        super().__init__(model, **kwargs)
        check_choice('threshold_median', threshold_median, THRESHOLD_MEDIANS)
        check_choice('entropy_scale', entropy_scale, ENTROPY_SCALES)
        check_choice('pod_backbone', pod_backbone, POD_BACKBONES)
        check_choice('pod_logits', pod_logits, POD_LOGITS)
        check_number('min_threshold', min_threshold, '0.001 as the reference')
        check_number('no_background_weight', no_background_weight,
                     '0 as the reference, 1 as the earlier clbox')
        check_positive_int('threshold_bins', threshold_bins, '100 as the reference')
        check_positive_int('threshold_batch_size', threshold_batch_size, 'e.g. 8')
        if threshold_batches is not None:
            check_positive_int('threshold_batches', threshold_batches, 'or None for all')
        if pod_backbone == 'pre_relu':
            stage_end_blocks(self.model.backbone)  # raises on a backbone it cannot hook
        if pod_logits == 'small' and not isinstance(
                getattr(self.model.decode_head, 'conv_seg', None), nn.Module):
            raise ValueError(f"PLOP: pod_logits='small' reads the decode head's conv_seg; "
                             f'{type(self.model.decode_head).__name__} has none: use '
                             "pod_logits='upsampled'.")
        self.pod = MODELS.build(pod or dict(type='PODLoss'))
        self.min_threshold = float(min_threshold)
        self.threshold_median = threshold_median
        self.threshold_bins = threshold_bins
        self.entropy_scale = entropy_scale
        self.pod_backbone = pod_backbone
        self.pod_logits = pod_logits
        self.no_background_weight = float(no_background_weight)
        self.threshold_batches = threshold_batches
        self.threshold_batch_size = threshold_batch_size
        self.thresholds = torch.zeros(0)

    # -------------------------------------------------------------- thresholds
    def before_experience(self, experience):
        prepared = self.prepared_experience == experience.index
        super().before_experience(experience)
        if self.num_old and not prepared:
            self.thresholds = self.compute_thresholds(experience)

    def teacher_entropy(self, probs: torch.Tensor) -> torch.Tensor:
        """The teacher's per-pixel entropy on the thresholds' scale."""
        return pseudo_label_entropy(probs, self.entropy_scale, self.num_active)

    @torch.no_grad()
    def compute_thresholds(self, experience) -> torch.Tensor:
        """Per-old-class threshold: the median entropy of the teacher on the step's
        background pixels (``labels == 0``, ``train.py`` line 530), by class it predicts,
        floored at ``min_threshold``."""
        exact = self.threshold_median == 'exact'
        histogram = torch.zeros(self.num_old, self.threshold_bins, dtype=torch.long)
        entropies, classes = [], []
        for data in self.iterate_experience(experience, self.threshold_batch_size,
                                            self.threshold_batches):
            labels = self.seg_labels(data['data_samples'], data['inputs'].device)
            probs = torch.softmax(self.teacher_outputs(data['inputs'])['logits'].float(), 1)
            bg = labels == 0
            values, predicted = self.teacher_entropy(probs)[bg], probs.argmax(1)[bg]
            if exact:
                entropies.append(values.cpu())
                classes.append(predicted.cpu())
            else:
                histogram += entropy_histogram(values, predicted, self.num_old,
                                               self.threshold_bins).cpu()
        if not exact:
            return histogram_thresholds(histogram, self.min_threshold)
        if not entropies:
            return torch.full((self.num_old,), self.min_threshold)
        return median_thresholds(torch.cat(entropies), torch.cat(classes), self.num_old,
                                 self.min_threshold)

    # ------------------------------------------------------------------ losses
    def loss(self, inputs, data_samples):
        labels = self.seg_labels(data_samples, inputs.device)
        if not self.num_old:
            return dict(loss_ce=self.ce_loss(self.segment(inputs), labels))
        out = self.pod_segment(inputs)
        with torch.no_grad():
            old = self.pod_segment(inputs, model=self.teacher, num_classes=self.num_old)
        losses = self.pseudo_label_ce(out, labels, old)
        losses['loss_pod'] = self.pod(out['pod'], old['pod'], num_seen=self.num_active,
                                      num_new=self.num_new)
        losses.update(self.extra_losses(inputs, out, labels, old))
        return losses

    def pod_segment(self, inputs: torch.Tensor, model=None,
                    num_classes: Optional[int] = None) -> Dict[str, object]:
        """:meth:`segment` plus ``pod``: the maps Local POD distils (backbone stages,
        decoder features, logits), as ``pod_backbone`` and ``pod_logits`` select them."""
        model = self.model if model is None else model
        with StageCapture(model, stages=self.pod_backbone == 'pre_relu',
                          logits=self.pod_logits == 'small') as captured:
            out = self.segment(inputs, model=model, num_classes=num_classes)
        backbone = captured.stages if self.pod_backbone == 'pre_relu' else out['backbone']
        logits = (captured.logits[:, :out['logits'].shape[1]] if self.pod_logits == 'small'
                  else out['logits'])
        decoder = [out['decoder']] if out['decoder'] is not None else []
        out['pod'] = list(backbone) + decoder + [logits]
        return out

    def pseudo_label_ce(self, out, labels, old):
        """Cross-entropy on pseudo-labels, scaled per image by the confident share."""
        thresholds = self.thresholds
        if thresholds.numel() != self.num_old:
            thresholds = torch.full((self.num_old,), self.min_threshold)
        pseudo, factor = entropy_pseudo_labels(
            labels, old['logits'], thresholds, self.ignore_index,
            entropy_scale=self.entropy_scale, num_current=self.num_active,
            no_background_weight=self.no_background_weight)
        ce = F.cross_entropy(out['logits'], pseudo, ignore_index=self.ignore_index,
                             reduction='none')
        return dict(loss_ce=(ce * factor[:, None, None]).mean())

    # ------------------------------------------------------------------- state
    def algorithm_state(self):
        state = super().algorithm_state()
        state['thresholds'] = self.thresholds.tolist()
        return state

    def load_algorithm_state(self, state):
        super().load_algorithm_state(state)
        self.thresholds = torch.tensor(state.get('thresholds', []), dtype=torch.float32)


# ------------------------------------------------------------------ feature capture
def stage_end_blocks(backbone: nn.Module) -> List[nn.Module]:
    """The last residual block of each output stage of an mmseg ResNet (``res_layers``,
    ``out_indices``), in output order; each has the ``relu`` it applies last.

    Raises:
        ValueError: the backbone has no such blocks.
    """
    layers = getattr(backbone, 'res_layers', None)
    out_indices = getattr(backbone, 'out_indices', None)
    if not layers or out_indices is None:
        raise ValueError(f"PLOP: pod_backbone='pre_relu' hooks the last block of each stage "
                         f'of an mmseg ResNet (res_layers, out_indices); '
                         f'{type(backbone).__name__} has none: use '
                         "pod_backbone='post_relu'.")
    blocks = []
    for i, name in enumerate(layers):
        if i in out_indices:
            block = getattr(backbone, name)[-1]
            if not isinstance(getattr(block, 'relu', None), nn.ReLU):
                raise ValueError(f"PLOP: pod_backbone='pre_relu' needs the last block of "
                                 f'{name} to apply an nn.ReLU named relu; '
                                 f'{type(block).__name__} has none: use '
                                 "pod_backbone='post_relu'.")
            blocks.append(block)
    return blocks


class StageCapture:
    """Records, during one forward of an mmseg ``EncoderDecoder``, what Local POD reads
    besides :meth:`SegContinualAlgorithm.segment`'s output.

    * ``stages`` (list[Tensor]): each output stage's pre-activation output (the residual sum
      of its last block, the input of that block's last ReLU call), as the reference's
      blocks return it (``modules/residual.py`` lines 125-137). The ReLUs of those blocks
      are out-of-place while the capture is active (their inputs must survive), and hooks
      record each call's input, the last call winning.
    * ``logits`` (Tensor): the output of ``decode_head.conv_seg``, the logits before
      upsampling.

    Outside the ``with`` block nothing is hooked or changed; with both options off it does
    nothing at all.
    """

    def __init__(self, model: nn.Module, stages: bool = True, logits: bool = True):
        self.model = model
        self.want_stages, self.want_logits = stages, logits
        self.stages: List[torch.Tensor] = []
        self.logits: Optional[torch.Tensor] = None
        self._handles, self._relus, self._inputs = [], [], {}

    def __enter__(self) -> 'StageCapture':
        if self.want_stages:
            for i, block in enumerate(stage_end_blocks(self.model.backbone)):
                relu = block.relu
                self._relus.append((relu, relu.inplace))
                relu.inplace = False
                self._handles.append(relu.register_forward_hook(self._stage_hook(i)))
        if self.want_logits:
            self._handles.append(
                self.model.decode_head.conv_seg.register_forward_hook(self._logits_hook))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        for relu, inplace in self._relus:
            relu.inplace = inplace
        self._handles, self._relus = [], []
        self.stages = [self._inputs[i] for i in sorted(self._inputs)]
        self._inputs = {}

    def _stage_hook(self, index: int):
        def hook(module, args, output):
            self._inputs[index] = args[0]
        return hook

    def _logits_hook(self, module, args, output):
        self.logits = output


def check_choice(key: str, value, choices) -> None:
    """Raise a ValueError naming ``key`` when ``value`` is not one of ``choices``."""
    if value not in choices:
        raise ValueError(f'PLOP: {key} must be one of {list(choices)}, got {value!r} '
                         f'({choices[0]!r} is the reference\'s).')


def check_number(key: str, value, hint: str) -> None:
    """Raise a ValueError naming ``key`` unless ``value`` is a number >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f'PLOP: {key} must be a number >= 0, got {value!r} ({hint}).')


def check_positive_int(key: str, value, hint: str) -> None:
    """Raise a ValueError naming ``key`` unless ``value`` is an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f'PLOP: {key} must be a positive int, got {value!r} ({hint}).')
