"""Continuous self-supervised SimSiam with a stream buffer (FIFO or MinRed)."""
from typing import Dict, List

import torch

from clbox.registry import MODELS
from .base import ContinualAlgorithm


@MODELS.register_module()
class ContinualSimSiam(ContinualAlgorithm):
    """SimSiam (Chen and He, CVPR 2021) trained on a single pass over a stream with a
    replay buffer, as in Purushwalkam, Morgado and Gupta, "The Challenges of Continuous
    Self-Supervised Learning", ECCV 2022 (``senthilps8/continuous_ssl_problem``,
    ``simsiam.py`` and ``worker_buffered_simsiam.py``).

    The task model is mmpretrain's ``SimSiam`` (backbone, ``NonLinearNeck`` projector,
    ``LatentPredictHead`` predictor with ``CosineSimilarityLoss``); the loss is the same,
    ``-1/2 [cos(p1, sg z2) + cos(p2, sg z1)]`` over the batch. The method also hands each
    trained sample's two projector outputs to its buffer (``buffer.update(indices, z1=...,
    z2=...)``, detached, computed in train mode on the augmented views), after the forward
    pass and before the optimiser step, as the reference's ``update_sample_stats``: MinRed
    stores their average as the sample's feature. With a stream buffer
    (:class:`~clbox.buffers.FIFOBuffer`, :class:`~clbox.buffers.MinRedBuffer`) the
    online loop trains on batches drawn from it (:class:`~clbox.buffers.BufferedUpdates`).

    Args:
        model (dict): An mmpretrain ``SimSiam`` config.
        buffer (dict, optional): A stream buffer config. Defaults to None (train on the
            incoming batches themselves: the "conventional" arms).
        **kwargs: As :class:`~clbox.algorithms.base.ContinualAlgorithm`.
    """

    task = 'self-supervised'

    def loss(self, inputs: List[torch.Tensor], data_samples: list) -> Dict[str, torch.Tensor]:
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError('ContinualSimSiam needs two views per sample: end the training '
                             "pipeline with dict(type='MultiView', num_views=2, "
                             'transforms=[...]) before PackInputs.')
        model = self.model
        z1 = model.neck(model.backbone(inputs[0]))[0]
        z2 = model.neck(model.backbone(inputs[1]))[0]
        loss = 0.5 * (model.head.loss(z1, z2) + model.head.loss(z2, z1))
        if self.buffer is not None and hasattr(self.buffer, 'update'):
            with torch.no_grad():
                self.buffer.update(self.sample_indices(data_samples), z1=z1.detach(),
                                   z2=z2.detach())
        return dict(loss=loss)

    def preprocess(self, data: dict, training: bool) -> dict:
        """mmpretrain's ``SelfSupDataPreprocessor`` on the views only: the data samples stay
        as collated (on the CPU), since only their ``sample_idx`` and labels are read, and
        mmengine's ``cast_data`` would copy every field of every sample (about a quarter of
        a small model's step). Same inputs either way; other preprocessors run whole."""
        from mmpretrain.models.utils.data_preprocessor import SelfSupDataPreprocessor
        pre = self.data_preprocessor
        if type(pre) is not SelfSupDataPreprocessor or not isinstance(data, dict):
            return super().preprocess(data, training)
        inputs = pre(dict(inputs=data['inputs'], data_samples=None), training)['inputs']
        return dict(inputs=inputs, data_samples=data.get('data_samples'))

    @staticmethod
    def sample_indices(data_samples: list) -> torch.Tensor:
        """(B,) stream indices of a batch (``sample_idx``, which ``PackInputs`` keeps).

        Raises:
            KeyError: If the samples carry no ``sample_idx``.
        """
        try:
            return torch.tensor([int(s.sample_idx) for s in data_samples], dtype=torch.long)
        except AttributeError:
            raise KeyError('the data samples have no sample_idx: keep it in PackInputs\' '
                           'meta_keys (it is there by default).') from None

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """Global-average-pooled backbone features (B, C) of preprocessed images (what the
        probes use: the projector and predictor are left out)."""
        feats = self.model.backbone(inputs)
        feat = feats[-1] if isinstance(feats, (tuple, list)) else feats
        return feat.mean((2, 3)) if feat.dim() == 4 else feat.flatten(1)
