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
import math
from collections import OrderedDict
from contextlib import contextmanager
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import nn

from clbox.dist import gather_objects, world
from clbox.registry import BUFFERS, MODELS
from clbox.scenarios.base import Experience
from clbox.scenarios.batched import LabelBatch


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
        observe_pipeline (list, optional): mm pipeline that new samples go through before
            entering the buffer in the experience loop's ``observe`` pass (e.g. the test
            pipeline, so the buffer keeps each sample un-augmented). Defaults to None (the
            training pipeline: the buffer keeps the one random view it gave).
        replay_augments (list, optional): Batched augmentations with per-sample random
            parameters (:mod:`clbox.models.augments`) applied to replayed raw inputs at
            every draw, before the data preprocessor; on the inputs' device. Defaults to
            None (replayed as stored).
    """

    #: The kind of task model this method wraps: 'classification' or 'segmentation'.
    task = 'classification'

    def __init__(self, model: Union[dict, nn.Module], buffer: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None,
                 observe_pipeline: Optional[Sequence[dict]] = None,
                 replay_augments: Optional[Sequence] = None):
        if isinstance(model, dict):
            model = dict(model)
            if data_preprocessor is not None:
                model.setdefault('data_preprocessor', data_preprocessor)
            model = MODELS.build(model)
        super().__init__(data_preprocessor=None, init_cfg=init_cfg)
        self.model = model
        self.data_preprocessor = model.data_preprocessor
        self.buffer = BUFFERS.build(buffer) if isinstance(buffer, dict) else buffer
        self.observe_pipeline = list(observe_pipeline) if observe_pipeline is not None \
            else None
        if replay_augments is not None and not isinstance(replay_augments, nn.Module):
            from clbox.models.augments import BatchAugments
            replay_augments = BatchAugments(replay_augments)
        self.replay_augments = replay_augments
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

    def observe_dataset(self, experience: Experience):
        """The data of ``experience`` that the experience loop's ``observe`` pass reads:
        its dataset, through ``observe_pipeline`` when one is set."""
        if self.observe_pipeline is None:
            return experience.dataset
        from clbox.scenarios.base import with_pipeline
        return with_pipeline(experience.dataset, self.observe_pipeline)

    @property
    def observes(self) -> bool:
        """Whether this method overrides :meth:`observe` (the loops skip the pass if not)."""
        return type(self).observe is not ContinualAlgorithm.observe

    # --------------------------------------------------------------- forward
    def forward(self, inputs: torch.Tensor, data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if isinstance(data_samples, LabelBatch):  # 'predict' fills each sample in
            data_samples = data_samples.to_data_samples()
        return self.model(inputs, data_samples, mode=mode)

    def preprocess(self, data: dict, training: bool) -> dict:
        """The data preprocessor on a collated batch.

        A batch-fetched batch (``data_samples`` a :class:`LabelBatch`) keeps its label
        tensor: only the inputs go through mmpretrain's ``ClsDataPreprocessor`` (which
        would otherwise visit every sample), unless it has to turn labels into scores
        (``to_onehot``, ``batch_augments``); then, and for any other preprocessor, the
        batch becomes one data sample per sample first. Same values either way.
        """
        samples = data.get('data_samples') if isinstance(data, dict) else None
        if isinstance(samples, LabelBatch):
            if self._labels_bypass_preprocessor():
                inputs = _cls_preprocess_inputs(self.data_preprocessor, data['inputs'])
                return dict(inputs=inputs,
                            data_samples=samples.to(inputs.device, non_blocking=True))
            data = dict(data, data_samples=samples.to_data_samples())
        return self.data_preprocessor(data, training)

    def _labels_bypass_preprocessor(self) -> bool:
        from mmpretrain.models.utils.data_preprocessor import ClsDataPreprocessor
        pre = self.data_preprocessor
        return type(pre) is ClsDataPreprocessor and pre.batch_augments is None \
            and not pre.to_onehot

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
            data = self.preprocess(data, True)
            losses = self._run_forward(data, mode='loss')
        accuracy = self.__dict__.pop('_train_accuracy', None)
        if accuracy is not None and 'accuracy_top-1' not in losses:
            losses = dict(losses, **{'accuracy_top-1': accuracy})
        parsed_losses, log_vars = self.parse_losses(losses)
        update_params(optim_wrapper, parsed_losses)
        return log_vars

    def loss(self, inputs: torch.Tensor, data_samples: list) -> Dict[str, torch.Tensor]:
        """The method's losses for one preprocessed batch. Defaults to the task model's
        (for an mmpretrain ``ImageClassifier`` with a plain ``ClsHead`` loss and a
        :class:`LabelBatch`, the same computation without per-sample data elements)."""
        if isinstance(data_samples, LabelBatch):
            if _plain_classifier(self.model):
                return _cls_head_loss(self.model, inputs, data_samples.gt_label)
            data_samples = data_samples.to_data_samples()
        return self.model.loss(inputs, data_samples)

    def parse_losses(self, losses):
        """mmengine's ``parse_losses`` (the total is the sum of the entries whose name
        holds ``'loss'``), and a clear error when it is not finite.

        When every entry is one scalar tensor (the usual case), the same total is formed
        without mmengine's extra ``mean``/``0 +`` operations (equal values and
        gradients) and the logged values are floats read once, which is what mmengine's
        message hub turns them into anyway.
        """
        if len(losses) == 1:  # one scalar loss: log it once
            (name, loss), = losses.items()
            if 'loss' in name and isinstance(loss, torch.Tensor) and loss.dim() == 0:
                value = loss.item()
                if not math.isfinite(value):
                    raise NonFiniteLossError(f'the loss is {value} ({{{name!r}: {value}}})')
                log_vars = OrderedDict(loss=value)
                log_vars[name] = value
                return loss, log_vars
        if losses and all(isinstance(v, torch.Tensor) and v.dim() == 0
                          for v in losses.values()):
            parts = [v for k, v in losses.items() if 'loss' in k]
            loss = parts[0] if parts else sum(parts)
            for part in parts[1:]:
                loss = loss + part
            values = torch.stack([loss.detach().double()] +
                                 [v.detach().double() for v in losses.values()]).tolist()
            log_vars = OrderedDict(loss=values[0])  # one device sync for all of them
            log_vars.update(zip(losses, values[1:]))
            if not math.isfinite(log_vars['loss']):
                raise NonFiniteLossError(f'the loss is {log_vars["loss"]} '
                                         f'({dict(log_vars)})')
            return loss, log_vars
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
        """The (B,) class ids of a batch's data samples (a :class:`LabelBatch` or a list
        of mmpretrain data samples)."""
        if isinstance(data_samples, LabelBatch):
            return data_samples.gt_label
        return torch.cat([s.gt_label.reshape(-1)[:1] for s in data_samples])

    def classification_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The head's configured loss (``head.loss_module``), else cross-entropy.

        When the head's ``cal_acc`` is on (mmpretrain's switch, which
        :class:`~clbox.engine.hooks.TrainAccuracyHook` sets) and the model trains, the
        batch's top-1 accuracy is kept and :meth:`train_step` reports it as
        ``accuracy_top-1``, as mmpretrain's ``ClsHead.loss`` does.
        """
        head = getattr(self.model, 'head', None)
        if self.training and getattr(head, 'cal_acc', False) and logits.dim() == 2:
            with torch.no_grad():
                self.__dict__['_train_accuracy'] = \
                    (logits.argmax(1) == labels).float().mean() * 100
        loss_module = getattr(head, 'loss_module', None)
        if loss_module is None:
            return F.cross_entropy(logits, labels)
        return _batch_mean_loss(loss_module, logits, labels)

    def preprocess_replay(self, raw_inputs: torch.Tensor, training: bool = True) -> torch.Tensor:
        """Stored raw inputs (e.g. uint8 images) through ``replay_augments`` (fresh
        random parameters per sample and call, when training) and the data
        preprocessor."""
        if self.replay_augments is not None and training:
            device = self.data_preprocessor.device
            raw_inputs = self.replay_augments(raw_inputs.to(device))
        if self._labels_bypass_preprocessor():
            return _cls_preprocess_inputs(self.data_preprocessor, raw_inputs)
        return self.data_preprocessor(dict(inputs=raw_inputs), training)['inputs']

    @torch.no_grad()
    def predict_scores(self, data: dict) -> Tuple[torch.Tensor, torch.Tensor]:
        """(scores, labels) of a collated batch, for stream evaluation."""
        data = self.preprocess(data, False)
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


def update_params(optim_wrapper, loss: torch.Tensor) -> None:
    """``optim_wrapper.update_params(loss)``; for mmengine's plain ``OptimWrapper``
    without accumulation, its same three steps (backward, step, zero_grad) minus the
    division of the loss by an accumulation factor of 1."""
    from mmengine.optim import OptimWrapper
    if type(optim_wrapper) is OptimWrapper and optim_wrapper._accumulative_counts == 1:
        optim_wrapper.backward(loss)
        optim_wrapper.step()
        optim_wrapper.zero_grad()
    else:
        optim_wrapper.update_params(loss)


def _cls_preprocess_inputs(pre, inputs):
    """What mmpretrain 1.2's ``ClsDataPreprocessor.forward`` does to the inputs of a
    batch without batch augmentation (device, BGR->RGB, float, normalise, pad), with the
    same operations in the same order, minus its per-call generic casting."""
    if not isinstance(inputs, torch.Tensor):
        return pre(dict(inputs=inputs), False)['inputs']
    inputs = inputs.to(pre.device, non_blocking=pre._non_blocking)
    if pre.to_rgb and inputs.size(1) == 3:
        inputs = inputs.flip(1)
    inputs = inputs.float()
    if pre._enable_normalize:
        inputs = (inputs - pre.mean) / pre.std
    if pre.pad_size_divisor > 1:
        h, w = inputs.shape[-2:]
        pad_h = math.ceil(h / pre.pad_size_divisor) * pre.pad_size_divisor - h
        pad_w = math.ceil(w / pre.pad_size_divisor) * pre.pad_size_divisor - w
        inputs = F.pad(inputs, (0, pad_w, 0, pad_h), 'constant', pre.pad_value)
    return inputs


def _plain_classifier(model: nn.Module) -> bool:
    """Whether ``model`` is an mmpretrain ``ImageClassifier`` whose loss is mmpretrain's
    ``ClsHead`` loss unchanged (what :func:`_cls_head_loss` reproduces)."""
    cached = model.__dict__.get('_clbox_plain_classifier')
    if cached is None:
        from mmpretrain.models.classifiers import ImageClassifier
        from mmpretrain.models.heads import ClsHead
        head = getattr(model, 'head', None)
        cached = (isinstance(model, ImageClassifier)
                  and type(model).loss is ImageClassifier.loss
                  and type(model).extract_feat is ImageClassifier.extract_feat
                  and isinstance(head, ClsHead) and type(head).loss is ClsHead.loss
                  and type(head)._get_loss is ClsHead._get_loss)
        model.__dict__['_clbox_plain_classifier'] = cached
    return cached


def _cls_head_loss(model: nn.Module, inputs: torch.Tensor,
                   labels: torch.Tensor) -> Dict[str, torch.Tensor]:
    """``ImageClassifier.loss`` computed from a (B,) label tensor: the head's loss module
    averaged over the batch, and its accuracy when ``cal_acc`` (mmpretrain 1.2's
    ``ClsHead.loss``/``_get_loss``, same keys and values)."""
    head = model.head
    cls_score = head(model.extract_feat(inputs))
    losses = dict(loss=_batch_mean_loss(head.loss_module, cls_score, labels))
    if head.cal_acc:
        from mmpretrain.evaluation import Accuracy
        acc = Accuracy.calculate(cls_score, labels, topk=head.topk)
        losses.update({f'accuracy_top-{k}': a for k, a in zip(head.topk, acc)})
    return losses


def _batch_mean_loss(loss_module: nn.Module, cls_score: torch.Tensor,
                     labels: torch.Tensor) -> torch.Tensor:
    """``loss_module(cls_score, labels, avg_factor=B)``. For mmpretrain 1.2's plain
    ``CrossEntropyLoss`` (softmax, no class weights, mean) the same operations written
    out: per-sample cross-entropy, summed, divided by B, times ``loss_weight`` (skipped
    when 1, an exact identity)."""
    from mmpretrain.models.losses import CrossEntropyLoss
    from mmpretrain.models.losses.cross_entropy_loss import cross_entropy
    if type(loss_module) is CrossEntropyLoss and loss_module.cls_criterion is cross_entropy \
            and loss_module.class_weight is None and loss_module.reduction == 'mean':
        loss = F.cross_entropy(cls_score, labels, reduction='none').sum() / cls_score.size(0)
        return loss if loss_module.loss_weight == 1.0 else loss_module.loss_weight * loss
    return loss_module(cls_score, labels, avg_factor=cls_score.size(0))


def frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy in eval mode with gradients off (a teacher)."""
    teacher = copy.deepcopy(module).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher
