"""Learning without Forgetting."""
from typing import Optional

import torch

from clbox.registry import MODELS
from .base import ContinualAlgorithm, frozen_copy


@MODELS.register_module()
class LwF(ContinualAlgorithm):
    """Learning without Forgetting (Li & Hoiem, ECCV 2016, arXiv:1606.09282).

    Before each experience after the first, the current model is frozen as a teacher; the
    loss is the task loss plus ``alpha`` times the distillation of the teacher's logits on
    the classes seen so far. Defaults follow the paper (Sec. 3): temperature T = 2 and loss
    balance lambda_o = 1.

    Args:
        model (dict): The task model.
        distill (dict): Distillation loss (``MODELS``). Defaults to
            ``dict(type='KDLoss', temperature=2.0)``.
        alpha (float): Weight of the distillation term (lambda_o). Defaults to 1.0.
    """

    def __init__(self, model, distill: Optional[dict] = None, alpha: float = 1.0,
                 **kwargs):
        super().__init__(model, **kwargs)
        self.distill = MODELS.build(distill or dict(type='KDLoss', temperature=2.0))
        self.alpha = alpha
        self.__dict__['teacher'] = None  # not a submodule: no optimizer, no double state

    def before_experience(self, experience):
        super().before_experience(experience)
        if self.seen_classes:
            self.__dict__['teacher'] = frozen_copy(self.model)

    def loss(self, inputs, data_samples):
        labels = self.labels(data_samples).to(inputs.device)
        logits = self.logits(inputs)
        losses = dict(loss_cls=self.classification_loss(logits, labels))
        if self.teacher is not None:
            with torch.no_grad():
                old = self.teacher(inputs, mode='tensor')
            classes = torch.tensor(self.seen_classes, device=logits.device)
            losses['loss_distill'] = self.alpha * self.distill(logits, old, classes)
        return losses

    def algorithm_state(self):
        state = super().algorithm_state()
        if self.teacher is not None:
            state['teacher'] = self.teacher.state_dict()
        return state

    def load_algorithm_state(self, state):
        super().load_algorithm_state(state)
        if 'teacher' in state:
            teacher = frozen_copy(self.model)
            teacher.load_state_dict(state['teacher'])
            self.__dict__['teacher'] = teacher
