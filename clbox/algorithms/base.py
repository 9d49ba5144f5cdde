"""The base of every continual method: an mmengine model that wraps a task model.

The loops talk to a method through these calls, each a no-op here:

* :meth:`ContinualAlgorithm.before_experience` - grow heads, snapshot a teacher, ...
* :meth:`ContinualAlgorithm.train_dataset` - what to train on for an experience.
* :meth:`ContinualAlgorithm.loss` - the method's whole loss dict for one batch.
* :meth:`ContinualAlgorithm.observe` - new samples seen once (buffer insertion).
* :meth:`ContinualAlgorithm.after_experience` - consolidation (importances, class stats).

Method state that must survive a checkpoint (teacher weights, importances, buffer, seen
classes) is returned by :meth:`algorithm_state` and travels inside the model's
``state_dict`` through ``get_extra_state``, so mmengine's checkpoints carry it unchanged.
"""
import copy
from contextlib import contextmanager
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import nn

from clbox.dist import gather_objects, world
from clbox.registry import BUFFERS, MODELS
from clbox.scenarios.base import Experience


class NonFiniteLossError(FloatingPointError):
    """Raised when a loss is NaN or infinite; the loop adds where it happened."""


class ContinualAlgorithm(BaseModel):
    """Wrap a task model (e.g. mmpretrain's ``ImageClassifier``) with continual hooks.

    Args:
        model (dict | nn.Module): The task model. Its ``data_preprocessor`` is used.
        buffer (dict, optional): Replay memory config (``BUFFERS``). Defaults to None.
        data_preprocessor (dict, optional): Given to the task model when its config has
            none (mmengine's Runner passes a top-level ``data_preprocessor`` here).
            Defaults to None.
        init_cfg (dict, optional): mmengine init config. Defaults to None.
    """

    #: The kind of task model this method wraps: 'classification' or 'segmentation'.
    task = 'classification'

    def __init__(self, model: Union[dict, nn.Module], buffer: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None):
        if isinstance(model, dict):
            model = dict(model)
            if data_preprocessor is not None:
                model.setdefault('data_preprocessor', data_preprocessor)
            model = MODELS.build(model)
        super().__init__(data_preprocessor=None, init_cfg=init_cfg)
        self.model = model
        self.data_preprocessor = model.data_preprocessor
        self.buffer = BUFFERS.build(buffer) if isinstance(buffer, dict) else buffer
        self.experience_index = 0
        self.seen_classes: List[int] = []
        self.current_classes: List[int] = []
        self.__dict__['_forward_module'] = None  # the DDP wrapper while it trains us

    # ------------------------------------------------------------- stream hooks
    def before_experience(self, experience: Experience) -> None:
        """Called before training on ``experience``."""
        self.experience_index = experience.index
        self.current_classes = list(experience.classes)

    def train_dataset(self, experience: Experience, stream: Sequence[Experience]):
        """The dataset to train on for ``experience``. Defaults to its own."""
        return experience.dataset

    def configure_optimizer(self, optim_wrapper, experience: Experience) -> None:
        """Adjust the optimizer at the start of ``experience`` (after a rebuild, before the
        param schedulers are built), e.g. a per-experience learning rate. Not called when
        resuming inside an experience: the checkpointed optimizer already has it."""

    def train_batch_size(self, experience: Experience, default: int) -> int:
        """Incoming samples per step for ``experience`` (e.g. AR1 shrinks it so new plus
        replayed samples make one mini-batch). Defaults to the dataloader's."""
        return default

    def after_experience(self, experience: Experience, dataloader) -> None:
        """Called after training on ``experience``; ``dataloader`` iterates its data."""
        self.seen_classes = sorted(set(self.seen_classes) | set(experience.classes))

    def observe(self, data: dict) -> None:
        """New samples (a collated, not yet preprocessed batch) seen for the first time."""

    @property
    def observes(self) -> bool:
        """Whether this method overrides :meth:`observe` (the loops skip the pass if not)."""
        return type(self).observe is not ContinualAlgorithm.observe

    # --------------------------------------------------------------- forward
    def forward(self, inputs: torch.Tensor, data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        return self.model(inputs, data_samples, mode=mode)

    @contextmanager
    def forward_through(self, wrapper: nn.Module):
        """Within this context the loss forward goes through ``wrapper`` (the DDP wrapper,
        whose ``forward`` calls back into :meth:`forward`), so gradients are all-reduced."""
        self.__dict__['_forward_module'] = wrapper
        try:
            yield
        finally:
            self.__dict__['_forward_module'] = None

    def _run_forward(self, data, mode: str):
        wrapper = self.__dict__.get('_forward_module')
        if wrapper is None or mode != 'loss':
            return super()._run_forward(data, mode)
        if isinstance(data, dict):
            return wrapper(**data, mode=mode)
        return wrapper(*data, mode=mode)

    def train_step(self, data, optim_wrapper):
        """mmengine's train step; under DDP the loss forward goes through the wrapper
        (:meth:`forward_through`) and gradient accumulation skips its all-reduces."""
        with optim_wrapper.optim_context(self.__dict__.get('_forward_module') or self):
            data = self.data_preprocessor(data, True)
            losses = self._run_forward(data, mode='loss')
        parsed_losses, log_vars = self.parse_losses(losses)
        optim_wrapper.update_params(parsed_losses)
        return log_vars

    def loss(self, inputs: torch.Tensor, data_samples: list) -> Dict[str, torch.Tensor]:
        """The method's losses for one preprocessed batch. Defaults to the task model's."""
        return self.model.loss(inputs, data_samples)

    def parse_losses(self, losses):
        loss, log_vars = super().parse_losses(losses)
        if not torch.isfinite(loss):
            parts = {k: float(v) for k, v in log_vars.items()}
            raise NonFiniteLossError(f'the loss is {float(loss)} ({parts})')
        return loss, log_vars

    # ------------------------------------------------------ classification helpers
    def logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """Class scores of a preprocessed batch (the task model in ``'tensor'`` mode)."""
        out = self.model(inputs, mode='tensor')
        return out[-1] if isinstance(out, (tuple, list)) else out

    @staticmethod
    def labels(data_samples: list) -> torch.Tensor:
        """Stack ``gt_label`` of mmpretrain data samples into a (B,) tensor."""
        return torch.cat([s.gt_label.reshape(-1)[:1] for s in data_samples])

    def classification_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The head's configured loss (``head.loss_module``), else cross-entropy."""
        head = getattr(self.model, 'head', None)
        loss_module = getattr(head, 'loss_module', None)
        if loss_module is None:
            return F.cross_entropy(logits, labels)
        return loss_module(logits, labels, avg_factor=logits.size(0))

    def preprocess_replay(self, raw_inputs: torch.Tensor, training: bool = True) -> torch.Tensor:
        """Run stored raw inputs (e.g. uint8 images) through the data preprocessor."""
        return self.data_preprocessor(dict(inputs=raw_inputs), training)['inputs']

    @torch.no_grad()
    def predict_scores(self, data: dict) -> Tuple[torch.Tensor, torch.Tensor]:
        """(scores, labels) of a collated batch, for stream evaluation."""
        data = self.data_preprocessor(data, False)
        return self.logits(data['inputs']), self.labels(data['data_samples']).to(
            data['inputs'].device)

    # ------------------------------------------------------------------ state
    def algorithm_state(self) -> dict:
        """Method state to checkpoint (tensors, numbers, lists and dicts only)."""
        state = dict(method=type(self).__name__, experience_index=self.experience_index,
                     seen_classes=self.seen_classes, current_classes=self.current_classes)
        if self.buffer is not None:
            ranks = self.__dict__.get('_rank_buffers')
            state['buffer'] = dict(ranks=ranks) if ranks is not None \
                else self.buffer.state_dict()
        return state

    def gather_rank_state(self) -> None:
        """Collect every rank's buffer share for a checkpoint (a collective call: every
        rank calls it before a save; rank 0's :meth:`algorithm_state` then holds them all
        as ``buffer=dict(ranks=[...])``). A no-op in one process."""
        if self.buffer is not None and world()[1] > 1:
            self.__dict__['_rank_buffers'] = gather_objects(self.buffer.state_dict())

    def release_rank_state(self) -> None:
        """Forget what :meth:`gather_rank_state` collected."""
        self.__dict__['_rank_buffers'] = None

    def load_algorithm_state(self, state: dict) -> None:
        """Restore what :meth:`algorithm_state` returned."""
        self.experience_index = int(state.get('experience_index', 0))
        self.seen_classes = list(state.get('seen_classes', []))
        self.current_classes = list(state.get('current_classes', []))
        if self.buffer is not None and 'buffer' in state:
            self.buffer.load_state_dict(self._own_buffer_state(state['buffer']))

    @staticmethod
    def _own_buffer_state(state: dict) -> dict:
        """This rank's share of a checkpointed buffer; a clear error when the checkpoint
        was written by another number of processes."""
        rank, world_size = world()
        ranks = state.get('ranks') if isinstance(state, dict) else None
        saved = len(ranks) if ranks is not None else 1
        if saved != world_size:
            raise ValueError(
                f'the checkpoint holds the replay buffer of {saved} process(es) but this run '
                f'has {world_size}: every rank keeps its own share of the buffer, so a '
                f'resume needs the same number of processes ({saved}: e.g. '
                f'tools/dist_train.sh CONFIG {saved} --resume). To start a new stream from '
                'these weights instead, use load_from (weights only, no buffer).')
        return ranks[rank] if ranks is not None else state

    def get_extra_state(self) -> dict:
        return self.algorithm_state()

    def set_extra_state(self, state: dict) -> None:
        self.load_algorithm_state(state)


def frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy in eval mode with gradients off (a teacher)."""
    teacher = copy.deepcopy(module).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher
