"""PLOP: pooled outputs distillation and pseudo-labelling."""
from typing import Optional

import torch
import torch.nn.functional as F

from clbox.models.losses.plop import (entropy_pseudo_labels, median_thresholds,
                                      normalized_entropy)
from clbox.registry import MODELS
from .seg_base import SegContinualAlgorithm


@MODELS.register_module()
class PLOP(SegContinualAlgorithm):
    """PLOP (Douillard et al., CVPR 2021, arXiv:2011.11390).

    After the first step:

    * **Local POD** (:class:`PODLoss`) on every backbone stage, the decoder features and the
      logits (new-class logits summed into the background), weights 0.01 / 0.0005 and the
      ``sqrt(|seen| / |new|)`` factor of PLOP's VOC script.
    * **Entropy-based pseudo-labels**: before training a step, the teacher's normalised
      entropy on the step's background pixels gives a per-class median threshold (floored at
      0.001); background pixels the teacher is confident about take its class, the others
      are ignored, and each image's cross-entropy is scaled by its share of confident
      background pixels (PLOP's ``classif_adaptive_factor``). The cross-entropy is averaged
      over all pixels, as in PLOP's code.
    * New classes initialised from the background (``init_new_classes='mib'``).

    Differences from the reference code, on purpose: entropy is ``H(p) / log C`` (the code
    divides a class-averaged entropy by ``log C`` twice); the median is exact rather than
    read from a 100-bin histogram.

    Args:
        model (dict): The segmentor.
        pod (dict): Defaults to ``dict(type='PODLoss')``.
        min_threshold (float): Floor of the entropy thresholds. Defaults to 0.001.
        threshold_batches (int, optional): Batches of the step's data used for the thresholds.
            Defaults to None (all).
        threshold_batch_size (int): Defaults to 8.
        **kwargs: See :class:`SegContinualAlgorithm`.
    """

    needs_teacher = True

    def __init__(self, model, pod: dict = None, min_threshold: float = 0.001,
                 threshold_batches: Optional[int] = None, threshold_batch_size: int = 8,
                 **kwargs):
        kwargs.setdefault('init_new_classes', 'mib')
        super().__init__(model, **kwargs)
        self.pod = MODELS.build(pod or dict(type='PODLoss'))
        self.min_threshold = min_threshold
        self.threshold_batches = threshold_batches
        self.threshold_batch_size = threshold_batch_size
        self.thresholds = torch.zeros(0)

    def before_experience(self, experience):
        prepared = self.prepared_experience == experience.index
        super().before_experience(experience)
        if self.num_old and not prepared:
            self.thresholds = self.compute_thresholds(experience)

    @torch.no_grad()
    def compute_thresholds(self, experience) -> torch.Tensor:
        """Per-old-class median entropy of the teacher on the step's background pixels."""
        entropies, classes = [], []
        for data in self.iterate_experience(experience, self.threshold_batch_size,
                                            self.threshold_batches):
            labels = self.seg_labels(data['data_samples'], data['inputs'].device)
            probs = torch.softmax(self.teacher_outputs(data['inputs'])['logits'], dim=1)
            bg = labels == 0
            entropies.append(normalized_entropy(probs)[bg].cpu())
            classes.append(probs.argmax(1)[bg].cpu())
        if not entropies:
            return torch.full((self.num_old,), float(self.min_threshold))
        return median_thresholds(torch.cat(entropies), torch.cat(classes), self.num_old,
                                 self.min_threshold)

    def loss(self, inputs, data_samples):
        out = self.segment(inputs)
        labels = self.seg_labels(data_samples, inputs.device)
        if not self.num_old:
            return dict(loss_ce=self.ce_loss(out, labels))
        old = self.teacher_outputs(inputs)
        losses = self.pseudo_label_ce(out, labels, old)
        losses['loss_pod'] = self.pod(out['features'] + [out['logits']],
                                      old['features'] + [old['logits']],
                                      num_seen=self.num_active, num_new=self.num_new)
        losses.update(self.extra_losses(inputs, out, labels, old))
        return losses

    def pseudo_label_ce(self, out, labels, old):
        """Cross-entropy on pseudo-labels, scaled per image by the confident share."""
        thresholds = self.thresholds
        if thresholds.numel() != self.num_old:
            thresholds = torch.full((self.num_old,), float(self.min_threshold))
        pseudo, factor = entropy_pseudo_labels(labels, old['logits'], thresholds,
                                               self.ignore_index)
        ce = F.cross_entropy(out['logits'], pseudo, ignore_index=self.ignore_index,
                             reduction='none')
        return dict(loss_ce=(ce * factor[:, None, None]).mean())

    def algorithm_state(self):
        state = super().algorithm_state()
        state['thresholds'] = self.thresholds.tolist()
        return state

    def load_algorithm_state(self, state):
        super().load_algorithm_state(state)
        self.thresholds = torch.tensor(state.get('thresholds', []), dtype=torch.float32)
