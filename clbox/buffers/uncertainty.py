"""The uncertainty-guided episodic memory of the SSLAD 2021 Track 3A 3rd-place solution.

Kurniawan et al., "Online Continual Learning via Multiple Deep Metric Learning and
Uncertainty-guided Episodic Memory Replay" (SSLAD 2021 workshop report). Facts from
``mrifkikurniawan/sslad`` @v4.3 (``modules.OnlineCLStorage``, ``UncertaintySampler``,
``RMSampler``, ``scoring.py``; ``../shared/specs/sslad-3a.md`` sec. 3.2-3.3):

* **one global pool** (no per-class slots) of samples with their label, the logits and the
  pooled feature the model gave them when they were stored;
* **online selection** after every update: the candidates are the whole mixed batch
  (replayed samples included, so duplicates happen); score = entropy of the softmax +
  0.5 if misclassified (:func:`online_selection_score`); the ``min(5, free slots)`` with
  the **lowest** score (the most confident, correctly classified) are appended; nothing is
  added when the memory is full (spec sec. 5 item 1: "uncertainty-guided" keeps the
  *least* uncertain here);
* **periodic sweep** when ``iteration > 0`` and (``iteration % 1000 == 0`` or the memory
  is full): the current mixed batch is appended first, then every sample is predicted
  under 12 RandAugment views (:class:`~clbox.models.rand_augment.RandAugmentPair`), its
  uncertainty is ``1 - (largest vote count) / 12`` (Rainbow Memory's variance ratio,
  :func:`vote_uncertainty`), and the 500 most uncertain are kept, ties in pandas'
  ``sort_values(ascending=False)`` order (:func:`descending_order`; machine-dependent, as
  the reference's was: ``ties='stable'`` keeps them in memory order instead), with the
  logits and features of the 12th view;
* **class-balanced replay** (:class:`ClassBalancedReplay`): when the memory holds exactly
  500 samples, a snapshot of it is drawn 500 times with replacement, each sample with
  probability proportional to 1 / (its class count) (``torchsampler.ImbalancedDatasetSampler``),
  and replayed 6 at a time until the draws run out (the last batch holds 2): no replay
  in between.

Samples are kept as the raw uint8 images the data preprocessor normalises (the reference
kept PIL images made back from the normalised tensor, a round trip that truncates each
pixel by up to one level; here the stored image is the exact one). Placeholder features of
the samples appended before a sweep are zeros (the reference's are uninitialised memory;
the sweep replaces both anyway).

With several processes each rank keeps its own memory of ``size / world_size``
(sweeps to ``sweep_size / world_size``) from the batches it sees.
"""
import random
from typing import Callable, Dict, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from clbox.dist import rank_share, world
from clbox.registry import BUFFERS

FIELDS = ('inputs', 'labels', 'logits', 'features')


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """(B,) entropy ``-sum p ln p`` of (B, C) probabilities (``scoring.entropy``: no
    epsilon, as the reference)."""
    return (probs * -torch.log(probs)).sum(dim=1)


def online_selection_score(logits: torch.Tensor, labels: torch.Tensor,
                           negative_weight: float = 0.5) -> torch.Tensor:
    """(B,) entropy of ``softmax(logits)`` plus ``negative_weight`` for each sample whose
    argmax is not its label (``UncertaintySampler._compute_score`` with
    ``negative_mining``; the reference's 0.5 is a float16 value, exact)."""
    probs = F.softmax(logits, dim=1)
    wrong = (probs.argmax(dim=1) != labels.to(probs.device)).float()
    return entropy(probs) + negative_weight * wrong


def vote_uncertainty(predictions: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(N,) ``1 - max_c votes_c / V`` of (V, N) predicted classes over V views
    (``RMSampler._variance_ratio``)."""
    views = predictions.size(0)
    votes = F.one_hot(predictions.long(), num_classes).sum(0)     # (N, C)
    return 1. - votes.max(dim=1).values.double() / views


def descending_order(values: np.ndarray, ties: str = 'pandas') -> np.ndarray:
    """Indices that sort ``values`` in decreasing order.

    Args:
        values (np.ndarray): (N,) values.
        ties (str): 'pandas' (the reference): as ``DataFrame.sort_values(ascending=False)``
            orders them (``pandas.core.sorting.nargsort``: reverse, numpy's quicksort
            ascending, reverse back). numpy's quicksort is not stable (on x86 it
            dispatches to SIMD sorts, even for short arrays), so the order of ties depends
            on the machine, as it did for the reference. 'stable': ties in index order
            (the same on every machine).
    """
    values = np.asarray(values)
    if ties == 'stable':
        return np.argsort(-values, kind='stable')
    if ties != 'pandas':
        raise ValueError(f"ties must be 'pandas' or 'stable', got {ties!r}.")
    idx = np.arange(len(values))[::-1]
    return idx[values[::-1].argsort(kind='quicksort')][::-1].copy()


@BUFFERS.register_module()
class UncertaintyMemory:
    """The solution's episodic memory: online selection and periodic uncertainty sweep.

    The method gives it the model's outputs (it never runs the model itself):
    :meth:`select` picks the candidates to store, :meth:`append` stores them,
    :meth:`sweep_due` / :meth:`sweep` run the periodic sweep with a prediction callable.

    Args:
        size (int): Capacity. Defaults to 1000 (the challenge's limit).
        sweep_size (int): Samples kept by a sweep. Defaults to 500.
        per_batch (int): Samples selected per update. Defaults to 5.
        negative_weight (float): Score added for a misclassified sample. Defaults to 0.5.
        sweep_every (int): Iterations between forced sweeps. Defaults to 1000.
        views (int): Augmented predictions per sample in a sweep. Defaults to 12.
        num_classes (int): Logits of the model. Defaults to 7.
        seed (int): Seed of the memory's randomness (augmentations, replay draws); rank
            ``r`` uses ``seed + r``. Defaults to 0.
        ties (str): Order of equally uncertain samples in a sweep: 'pandas' (the
            reference's) or 'stable' (:func:`descending_order`). Defaults to 'pandas'.

    Attributes:
        total_size (int): The configured capacity (for a challenge's memory rule).
    """

    def __init__(self, size: int = 1000, sweep_size: int = 500, per_batch: int = 5,
                 negative_weight: float = 0.5, sweep_every: int = 1000, views: int = 12,
                 num_classes: int = 7, seed: int = 0, ties: str = 'pandas'):
        if not 0 < sweep_size <= size:
            raise ValueError(f'UncertaintyMemory: sweep_size must be in (0, size={size}], '
                             f'got {sweep_size}.')
        rank, world_size = world()
        if sweep_size < world_size:
            raise ValueError(f'UncertaintyMemory: sweep_size {sweep_size} is smaller than the '
                             f'{world_size} processes that share it.')
        self.total_size = int(size)
        self.size = rank_share(size, rank, world_size)
        self.sweep_size = rank_share(sweep_size, rank, world_size)
        self.per_batch, self.negative_weight = int(per_batch), float(negative_weight)
        self.sweep_every, self.views, self.num_classes = int(sweep_every), int(views), \
            int(num_classes)
        self.generator = torch.Generator().manual_seed(seed + rank)
        self.rng = random.Random(seed + rank)
        self.storage: Dict[str, torch.Tensor] = {}
        descending_order(np.zeros(1), ties)   # checks the value
        self.ties = ties

    def __len__(self) -> int:
        return 0 if not self.storage else len(self.storage['labels'])

    @property
    def free(self) -> int:
        return self.size - len(self)

    # ------------------------------------------------------------------ online
    def select(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Indices of the candidates to store: the ``min(per_batch, free, B)`` lowest
        :func:`online_selection_score` (``topk(largest=False)``, in that order)."""
        k = min(self.per_batch, self.free, len(labels))
        if k <= 0:
            return torch.zeros(0, dtype=torch.long)
        scores = online_selection_score(logits.float(), labels, self.negative_weight)
        return torch.topk(scores, k=k, largest=False).indices.cpu()

    def append(self, inputs: torch.Tensor, labels: torch.Tensor, logits: torch.Tensor,
               features: Optional[torch.Tensor] = None) -> None:
        """Store samples at the end (no capacity check: a sweep may overfill briefly).
        Without ``features`` (the batch appended before a sweep) they are zeros of the
        stored width."""
        if features is None:
            width = self.storage['features'].size(1) if self.storage else 0
            features = torch.zeros(len(labels), width)
        batch = dict(inputs=inputs.detach().cpu(), labels=labels.detach().cpu().long(),
                     logits=logits.detach().cpu().float(),
                     features=features.detach().cpu().float().flatten(1))
        if not self.storage:
            self.storage = {k: v.clone() for k, v in batch.items()}
            return
        for key in FIELDS:
            self.storage[key] = torch.cat([self.storage[key],
                                           batch[key].to(self.storage[key].dtype)])

    # ------------------------------------------------------------------- sweep
    def sweep_due(self, iteration: int) -> bool:
        """The reference's trigger: ``iteration > 0`` and (a multiple of ``sweep_every``
        or the memory full)."""
        return iteration > 0 and (iteration % self.sweep_every == 0 or len(self) >= self.size)

    def augmented_views(self, inputs: torch.Tensor) -> torch.Tensor:
        """One RandAugment view of each (N, 3, H, W) uint8 image, uint8."""
        from PIL import Image

        from clbox.models.rand_augment import RandAugmentPair
        augment = RandAugmentPair(self.rng)
        arrays = inputs.permute(0, 2, 3, 1).contiguous().numpy()
        out = [np.asarray(augment(Image.fromarray(a)), dtype=np.uint8) for a in arrays]
        return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).contiguous()

    def sweep(self, predict: Callable[[torch.Tensor], Tuple[torch.Tensor, torch.Tensor]],
              batch_size: int = 32) -> torch.Tensor:
        """Keep the ``sweep_size`` most uncertain samples under ``views`` augmentations.

        Args:
            predict (callable): (n, 3, H, W) uint8 images -> ((n, C) logits, (n, D)
                features), in eval mode without gradients.
            batch_size (int): Images per ``predict`` call. Defaults to 32.

        Returns:
            Tensor: The kept indices (into the memory before the sweep), most uncertain
            first.
        """
        inputs = self.storage['inputs']
        predictions, logits, features = [], None, None
        for _ in range(self.views):
            view = self.augmented_views(inputs)
            outs = [predict(view[i:i + batch_size]) for i in range(0, len(view), batch_size)]
            logits = torch.cat([o[0].detach().cpu().float() for o in outs])
            features = torch.cat([o[1].detach().cpu().float().flatten(1) for o in outs])
            predictions.append(logits.argmax(dim=1))
        uncertainty = vote_uncertainty(torch.stack(predictions), logits.size(1))
        keep = torch.from_numpy(descending_order(uncertainty.numpy(), self.ties)[:self.sweep_size])
        self.storage = {k: v[keep] for k, v in self.storage.items()}
        self.storage['logits'], self.storage['features'] = logits[keep], features[keep]
        return keep

    # ------------------------------------------------------------------- state
    def state_dict(self) -> dict:
        return dict(storage={k: v.clone() for k, v in self.storage.items()},
                    generator=self.generator.get_state(),
                    rng=_python_state(self.rng.getstate()))

    def load_state_dict(self, state: dict) -> None:
        self.storage = {k: v.clone() for k, v in state.get('storage', {}).items()}
        if 'generator' in state:
            self.generator.set_state(state['generator'])
        if 'rng' in state:
            version, internal, gauss = state['rng']
            self.rng.setstate((version, tuple(internal), gauss))


def _python_state(state) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]


class ClassBalancedReplay:
    """Replay batches from a snapshot of a memory, drawn class-balanced with replacement.

    ``torchsampler.ImbalancedDatasetSampler`` as the solution uses it: ``len(snapshot)``
    draws of ``torch.multinomial`` with weights ``1 / count(label)``, read in batches of
    ``batch_size``; once they run out, :meth:`next` returns None until a new snapshot.

    Args:
        storage (dict): The memory's tensors (copied: later changes do not leak in).
        batch_size (int): Replayed samples per step. Defaults to 6.
        generator (torch.Generator, optional): The draws' randomness.
    """

    def __init__(self, storage: Dict[str, torch.Tensor], batch_size: int = 6,
                 generator: Optional[torch.Generator] = None):
        self.storage = {k: v.clone() for k, v in storage.items()}
        labels = self.storage['labels']
        counts = torch.bincount(labels)
        weights = 1.0 / counts[labels].double()
        self.order = torch.multinomial(weights, len(labels), replacement=True,
                                       generator=generator)
        self.batch_size, self.position = int(batch_size), 0

    def __len__(self) -> int:
        """Batches in all."""
        return -(-len(self.order) // self.batch_size)

    def next(self) -> Optional[Dict[str, torch.Tensor]]:
        """The next batch (a dict of the memory's fields), or None once exhausted."""
        if self.position >= len(self.order):
            return None
        idx = self.order[self.position:self.position + self.batch_size]
        self.position += len(idx)
        return {k: v[idx] for k, v in self.storage.items()}

    def state_dict(self) -> dict:
        return dict(storage=self.storage, order=self.order.clone(), position=self.position,
                    batch_size=self.batch_size)

    @classmethod
    def from_state(cls, state: dict) -> 'ClassBalancedReplay':
        replay = cls.__new__(cls)
        replay.storage = {k: v.clone() for k, v in state['storage'].items()}
        replay.order, replay.position = state['order'].clone(), int(state['position'])
        replay.batch_size = int(state['batch_size'])
        return replay


class ClassAwareCycle:
    """Round-robin over the classes of a memory snapshot, each class cycling through its
    samples in memory order (the v4.4 head fine-tuning's ``ocl.sampler.ClassAwareSampler``
    with ``sample_per_class=1``, read by a ``DataLoader(batch_size, drop_last=True)`` that is
    restarted whenever it runs out).

    The sampler yields ``max_c count_c x (largest label + 1)`` indices per pass of the
    loader; a pass's last partial batch is drawn and dropped; the class and per-class
    positions carry over from pass to pass.

    Args:
        storage (dict): The memory's tensors (copied).
        batch_size (int): Defaults to 6.
    """

    def __init__(self, storage: Dict[str, torch.Tensor], batch_size: int = 6):
        self.storage = {k: v.clone() for k, v in storage.items()}
        labels = self.storage['labels'].tolist()
        self.classes = sorted(set(labels))
        self.members = {c: [i for i, y in enumerate(labels) if y == c] for c in self.classes}
        self.pass_length = max(len(m) for m in self.members.values()) * (max(labels) + 1)
        self.batch_size = int(batch_size)
        self.class_pos, self.member_pos = -1, {c: -1 for c in self.classes}
        self.in_pass = 0

    def _next_index(self) -> int:
        self.class_pos = (self.class_pos + 1) % len(self.classes)
        c = self.classes[self.class_pos]
        self.member_pos[c] = (self.member_pos[c] + 1) % len(self.members[c])
        self.in_pass += 1
        return self.members[c][self.member_pos[c]]

    def next(self) -> Dict[str, torch.Tensor]:
        """The next batch (a dict of the memory's fields)."""
        if self.pass_length - self.in_pass < self.batch_size:
            while self.in_pass < self.pass_length:     # the dropped last batch
                self._next_index()
            self.in_pass = 0
        idx = torch.tensor([self._next_index() for _ in range(self.batch_size)])
        return {k: v[idx] for k, v in self.storage.items()}

    def state_dict(self) -> dict:
        return dict(storage=self.storage, batch_size=self.batch_size,
                    class_pos=self.class_pos, member_pos=dict(self.member_pos),
                    in_pass=self.in_pass)

    @classmethod
    def from_state(cls, state: dict) -> 'ClassAwareCycle':
        cycle = cls(state['storage'], state['batch_size'])
        cycle.class_pos, cycle.in_pass = int(state['class_pos']), int(state['in_pass'])
        cycle.member_pos = {int(k): int(v) for k, v in state['member_pos'].items()}
        return cycle
