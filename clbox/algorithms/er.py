"""Experience replay."""
from typing import Optional

import torch

from clbox.registry import MODELS
from .base import ContinualAlgorithm


@MODELS.register_module()
class ER(ContinualAlgorithm):
    """Experience Replay (Chaudhry et al., "On Tiny Episodic Memories in Continual
    Learning", 2019, arXiv:1902.10486): each training batch is concatenated with a batch
    drawn from a replay memory, and the loss is the task loss on the union.

    New samples enter the memory through :meth:`observe`: after each experience in the
    experience loop (as Avalanche's ``ReplayPlugin``), after each incoming batch in the
    online loop (as the paper's reservoir ER). Stored inputs are the raw collated inputs
    (uint8 images stay uint8) and go through the data preprocessor when replayed.

    Args:
        model (dict): The task model.
        buffer (dict): Memory config. Defaults to a 200-slot ``ClassBalancedBuffer``.
        replay_batch_size (int, optional): Replayed samples per step. Defaults to None (as
            many as the incoming batch, the paper's choice of equal mini-batches).
    """

    def __init__(self, model, buffer: Optional[dict] = None,
                 replay_batch_size: Optional[int] = None, **kwargs):
        buffer = buffer if buffer is not None else dict(type='ClassBalancedBuffer', size=200)
        super().__init__(model, buffer=buffer, **kwargs)
        self.replay_batch_size = replay_batch_size

    def loss(self, inputs, data_samples):
        labels = self.labels(data_samples).to(inputs.device)
        replay = self.buffer.sample(self.replay_batch_size or len(labels))
        if replay is not None:
            inputs = torch.cat([inputs, self.preprocess_replay(replay['inputs'])])
            labels = torch.cat([labels, replay['labels'].to(labels.device)])
        return dict(loss_cls=self.classification_loss(self.logits(inputs), labels))

    def observe(self, data):
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            inputs = torch.stack(inputs)
        self.buffer.add(inputs, self.labels(data['data_samples']), self.experience_index)
