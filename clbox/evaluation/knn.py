"""A kNN probe of a representation over the test stream (quick checks of self-supervised
models; the linear probe is the reported metric)."""
import copy
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from clbox.registry import EVALUATORS
from .classification import BaseStreamEvaluator


@EVALUATORS.register_module()
class KNNStreamEvaluator(BaseStreamEvaluator):
    """Weighted k-nearest-neighbour accuracy per test experience.

    Features are the method's ``extract_feat`` (average-pooled backbone output),
    L2-normalised. The bank is a labelled dataset (e.g. the training split with the test
    pipeline); each test sample's class scores are ``sum exp(cos / T)`` over its ``k``
    nearest bank samples of that class (the weighted vote of Wu et al., CVPR 2018, the
    usual kNN monitor of self-supervised training).

    Args:
        bank (dict): Dataset config of the labelled bank.
        k (int): Neighbours. Defaults to 20.
        temperature (float): Defaults to 0.07.
        batch_size (int): Bank batch size. Defaults to 256.
        bank_size (int, optional): Use only the first ``bank_size`` bank samples.
    """

    def __init__(self, bank: dict, k: int = 20, temperature: float = 0.07,
                 batch_size: int = 256, bank_size: Optional[int] = None):
        self.bank_cfg, self.k, self.temperature = bank, int(k), float(temperature)
        self.batch_size, self.bank_size = int(batch_size), bank_size
        self._bank = None

    def reset(self, num_experiences: int, num_classes: int) -> None:
        self.num_experiences, self.num_classes = num_experiences, num_classes
        self._feats, self._labels, self._exp = [], [], []
        self._algorithm = None

    @staticmethod
    @torch.no_grad()
    def embed(algorithm, data: dict):
        """(L2-normalised features, labels) of a collated batch."""
        data = algorithm.preprocess(data, False)
        feats = F.normalize(algorithm.extract_feat(data['inputs']).float(), dim=1)
        return feats, algorithm.labels(data['data_samples']).to(feats.device)

    def process(self, algorithm, data: dict, experience_index: int) -> None:
        self._algorithm = algorithm
        feats, labels = self.embed(algorithm, data)
        self._feats.append(feats)
        self._labels.append(labels)
        self._exp.append(torch.full_like(labels, experience_index))

    def bank_dataset(self):
        if self._bank is None:
            from clbox.scenarios.base import build_dataset, subset
            bank = build_dataset(copy.deepcopy(self.bank_cfg))
            if self.bank_size is not None and self.bank_size < len(bank):
                bank = subset(bank, range(self.bank_size))
            self._bank = bank
        return self._bank

    @torch.no_grad()
    def bank_features(self, algorithm):
        """Features and labels of the whole bank (every rank embeds all of it)."""
        from mmengine.dataset import default_collate

        from clbox.scenarios.batched import fetch_batch
        bank = self.bank_dataset()
        feats, labels = [], []
        for start in range(0, len(bank), self.batch_size):
            idx = list(range(start, min(start + self.batch_size, len(bank))))
            batch = fetch_batch(bank, idx) or default_collate([bank[i] for i in idx])
            f, y = self.embed(algorithm, batch)
            feats.append(f)
            labels.append(y)
        return torch.cat(feats), torch.cat(labels)

    def compute(self) -> dict:
        correct = np.zeros(self.num_experiences, dtype=np.int64)
        count = np.zeros(self.num_experiences, dtype=np.int64)
        if self._feats:
            bank, bank_labels = self.bank_features(self._algorithm)
            n_cls = int(max(bank_labels.max(), torch.cat(self._labels).max())) + 1
            feats, labels, exp = (torch.cat(x) for x in (self._feats, self._labels, self._exp))
            pred = knn_predict(feats, bank, bank_labels, n_cls, self.k, self.temperature)
            hit = (pred == labels).cpu().numpy()
            exp = exp.cpu().numpy()
            np.add.at(correct, exp, hit.astype(np.int64))
            np.add.at(count, exp, 1)
        correct, count = _sum_over_ranks(correct), _sum_over_ranks(count)
        row = (100.0 * correct / np.maximum(count, 1)).tolist()
        total = 100.0 * correct.sum() / max(count.sum(), 1)
        return dict(row=row, metrics={'knn/top1': float(total)}, details={})


def knn_predict(feats: torch.Tensor, bank: torch.Tensor, bank_labels: torch.Tensor,
                num_classes: int, k: int, temperature: float, chunk: int = 1024):
    """Class predictions by the temperature-weighted vote of the ``k`` most similar bank
    rows (features L2-normalised)."""
    k = min(k, len(bank))
    preds = []
    for start in range(0, len(feats), chunk):
        sim = feats[start:start + chunk] @ bank.T
        top, idx = sim.topk(k, dim=1)
        weights = (top / temperature).exp()
        votes = torch.zeros(len(sim), num_classes, device=sim.device)
        votes.scatter_add_(1, bank_labels[idx], weights)
        preds.append(votes.argmax(1))
    return torch.cat(preds)


def _sum_over_ranks(array: np.ndarray) -> np.ndarray:
    from mmengine.dist import all_reduce, get_world_size
    if get_world_size() == 1:
        return array
    tensor = torch.from_numpy(array)
    all_reduce(tensor, op='sum')
    return tensor.numpy()
