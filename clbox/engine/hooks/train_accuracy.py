"""Training accuracy per minibatch and per epoch (Avalanche's ``accuracy_metrics(
minibatch=True, epoch=True)``), the mmpretrain way: the head's ``cal_acc``."""
from typing import Dict, List, Optional

import torch
from mmengine.hooks import Hook

from clbox.dist import all_reduce_sum
from clbox.engine.utils import unwrap
from clbox.registry import HOOKS

ACC_KEY = 'accuracy_top-1'


def classification_head(algorithm):
    """The mmpretrain classification head of a continual method's task model.

    Raises:
        TypeError: If the task model has no head with mmpretrain's ``cal_acc`` switch.
    """
    head = getattr(getattr(algorithm, 'model', None), 'head', None)
    if head is None or not hasattr(head, 'cal_acc'):
        raise TypeError(
            f'TrainAccuracyHook needs a classification model with an mmpretrain ClsHead '
            f'(it switches on head.cal_acc); {type(algorithm).__name__} has '
            f'{type(head).__name__ if head is not None else "no head"}. Remove the hook '
            f'from custom_hooks for this method.')
    return head


@HOOKS.register_module()
class TrainAccuracyHook(Hook):
    """Training accuracy, per minibatch and per epoch.

    Minibatch: switches on the head's ``cal_acc`` (mmpretrain's own switch; every
    classification method of clbox honours it), so each training step reports
    ``accuracy_top-1`` beside its loss: in the log lines (averaged over the logger's
    window, as mmengine does for every logged value), in ``scalars.json`` and the
    visualizer backends as ``train/accuracy_top-1``. Computed on the batch the method
    trains on (replayed samples included), in train mode, as Avalanche's
    ``minibatch_accuracy``. Costs an ``argmax`` per step and no extra device sync (the
    value is read with the loss).

    Epoch: the sample-weighted mean over the epoch's steps, summed over all processes
    (Avalanche's ``epoch_accuracy``; each step weighted by its incoming batch), logged once per epoch as ``train/epoch_accuracy``
    (x-axis: the epoch), and kept per experience in ``result['details']
    ['train_accuracy_per_epoch']`` (``results.json``'s history). The online loop has no
    epochs: there the whole pass over an experience counts as one. The values travel in
    the checkpoints, so a resumed run keeps them.

    Example::

        custom_hooks = [dict(type='TrainAccuracyHook'), ...]
    """

    priority = 'NORMAL'

    def __init__(self):
        self.epochs: List[float] = []  # this experience's epoch accuracies so far
        self._correct = 0.0
        self._count = 0

    def before_train(self, runner) -> None:
        classification_head(unwrap(runner.model)).cal_acc = True

    def before_experience(self, runner, experience=None) -> None:
        if not getattr(runner.train_loop, '_epoch_in_exp', 0):  # not resumed inside one
            self.epochs, self._correct, self._count = [], 0.0, 0

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[Dict] = None) -> None:
        if not outputs or ACC_KEY not in outputs:
            return
        size = batch_size(data_batch)
        self._correct += float(outputs[ACC_KEY]) * size
        self._count += size

    def after_train_epoch(self, runner) -> None:
        self._finish_epoch(runner)

    def after_experience_eval(self, runner, experience, result=None) -> None:
        self._finish_epoch(runner)  # the online loop: the pass is the epoch
        if result is not None:
            result.setdefault('details', {})['train_accuracy_per_epoch'] = list(self.epochs)

    def after_experience(self, runner, experience, result=None) -> None:
        self.epochs = []

    def _finish_epoch(self, runner) -> None:
        totals = all_reduce_sum(torch.tensor([self._correct, float(self._count)],
                                             dtype=torch.float64))
        correct, count = totals.tolist()
        self._correct, self._count = 0.0, 0
        if count == 0:
            return
        accuracy = correct / count
        self.epochs.append(accuracy)
        runner.message_hub.update_scalar('train/epoch_accuracy', accuracy)
        runner.visualizer.add_scalars({'train/epoch_accuracy': accuracy}, step=runner.epoch)
        runner.logger.info(f'train accuracy of epoch {len(self.epochs)}: {accuracy:.2f}')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})['train_accuracy_hook'] = dict(
            epochs=list(self.epochs), correct=self._correct, count=self._count)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('meta', {}).get('train_accuracy_hook')
        if state:
            self.epochs = list(state['epochs'])
            self._correct, self._count = float(state['correct']), int(state['count'])


def batch_size(data_batch) -> int:
    """Samples in a collated batch (its data samples, else its inputs' first dimension)."""
    if isinstance(data_batch, dict):
        samples = data_batch.get('data_samples')
        if samples is not None:
            return len(samples)
        inputs = data_batch.get('inputs')
        if isinstance(inputs, torch.Tensor):
            return int(inputs.shape[0])
    return 1
