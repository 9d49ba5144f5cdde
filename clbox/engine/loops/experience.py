"""The experience-based train loop: epochs per experience over the whole stream."""
import copy
import math
import numbers
import time
from typing import List, Optional, Sequence

import torch
from mmengine.runner import BaseLoop

from clbox.algorithms.base import NonFiniteLossError
from clbox.dist import average_buffers_, gather_objects, world
from clbox.registry import LOOPS
from clbox.scenarios.base import Experience
from ..utils import build_loader, get_rng_state, set_rng_state, unwrap


@LOOPS.register_module()
class ExperienceBasedTrainLoop(BaseLoop):
    """Train on each experience of the scenario's train stream in turn.

    Per experience: the method's ``before_experience``, the ``before_experience`` hooks, a
    fresh optimizer and schedulers (if ``reset_optimizer``), ``max_epochs`` epochs of
    ``train_step``, the method's ``after_experience`` and ``observe`` pass, evaluation on
    the whole test stream (one row of the accuracy matrix), then the ``after_experience``
    hooks. The end of an experience has two hook stages: ``after_experience_eval`` (hooks
    add to the result's metrics, no files; the checkpoint hook saves last, so the
    checkpoint holds the experience whole) and ``after_experience`` (results, plots,
    loggers: whatever fails there, the experience is already saved). The steps are small
    methods to override.

    Args:
        runner (ContinualRunner): The runner.
        dataloader (dict): ``train_dataloader`` config without ``dataset``; the loop gives
            each experience's dataset.
        max_epochs (int | Sequence[int]): Epochs per experience, or one value per
            experience (by experience index; the last repeats), e.g. ``[60, 70]`` for 60
            epochs at step 0 and 70 later. With a list and ``reset_optimizer`` (schedulers
            restart at every experience), every epoch-based param scheduler whose ``end``
            is the first entry (a schedule written for one experience of that many epochs)
            ends at each experience's own epoch count instead. Defaults to 1.
        reset_optimizer (bool): Rebuild optimizer and param schedulers from the config at
            the start of every experience. Defaults to True.
        experiences (Sequence[int], optional): Indices of the experiences to train; the
            rest of the stream is skipped. Defaults to None (all).
        eval_initial (bool): Evaluate the untrained model once (needed for forward
            transfer). Defaults to True.
    """

    def __init__(self, runner, dataloader: dict, max_epochs: int = 1,
                 reset_optimizer: bool = True, experiences: Optional[Sequence[int]] = None,
                 eval_initial: bool = True):
        self._runner = runner
        self.dataloader_cfg = copy.deepcopy(dict(dataloader))
        self.dataloader_cfg.pop('dataset', None)
        check_batch_size(self.dataloader_cfg.get('batch_size', 1))
        self.epoch_schedule = epoch_schedule(max_epochs)
        self.reset_optimizer = reset_optimizer
        self.eval_initial = eval_initial
        stream = runner.scenario.train_stream
        self.experiences: List[int] = list(range(len(stream)) if experiences is None
                                           else experiences)
        bad = [i for i in self.experiences if not 0 <= i < len(stream)]
        if bad:
            raise ValueError(f'train_cfg.experiences {bad} outside the stream of '
                             f'{len(stream)} experiences.')
        # a method may train fewer (Joint(mode='all') trains once, on everything)
        select = getattr(self.algorithm, 'select_experiences', None)
        if select is not None:
            self.experiences = list(select(self.experiences))
        # position (the checkpointed state)
        self._experience_pos = 0      # index into self.experiences
        self._epoch_in_exp = 0
        self._epoch = 0
        self._iter = 0
        self.matrix: List[List[float]] = []
        self.history: List[dict] = []
        self.initial_row: Optional[List[float]] = None
        self.images_seen = 0
        self.train_time = 0.0
        self._wall_time = 0.0
        self._pending_rng: Optional[dict] = None
        self._resume_pass: Optional[dict] = None   # a checkpoint's mid-pass position
        self.stop_training = False
        first = stream[self.experiences[0]] if self.experiences else None
        self.dataloader = self.build_train_loader(first) if first is not None else None

    # ------------------------------------------------------------ properties
    @property
    def algorithm(self):
        """The continual method (the unwrapped model)."""
        return unwrap(self.runner.model)

    def epochs_of(self, index: int) -> int:
        """Epochs of the experience with stream index ``index``."""
        return self.epoch_schedule[min(index, len(self.epoch_schedule) - 1)]

    @property
    def epochs_per_experience(self) -> int:
        """Epochs of the current experience (of the last one after the stream)."""
        exp = self.current_experience
        index = exp.index if exp is not None else (self.experiences[-1] if self.experiences
                                                   else 0)
        return self.epochs_of(index)

    @property
    def max_epochs(self) -> int:
        return sum(self.epochs_of(i) for i in self.experiences)

    @property
    def max_iters(self) -> int:
        """Training iterations of this rank over the stream (what the progress bar and
        ETA count): each rank iterates ``ceil(len / world_size)`` samples per epoch."""
        if getattr(self, '_max_iters', None) is None:
            stream = self.runner.scenario.train_stream
            bs = self.dataloader_cfg.get('batch_size', 1)
            world_size = world()[1]
            self._max_iters = sum(
                math.ceil(math.ceil(len(self.algorithm.train_dataset(stream[i], stream))
                                    / world_size) / bs)
                * self.epochs_of(i) for i in self.experiences)
        return self._max_iters

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def iter(self) -> int:
        return self._iter

    @property
    def current_experience(self) -> Optional[Experience]:
        """The experience being trained (or next to train)."""
        if self._experience_pos >= len(self.experiences):
            return None
        return self.runner.scenario.train_stream[self.experiences[self._experience_pos]]

    # ------------------------------------------------------------------ run
    def run(self):
        """Train over the stream; returns the model."""
        self.runner.call_hook('before_train')
        self.check_num_classes()
        if self._pending_rng is not None:
            set_rng_state(self._pending_rng)
            self._pending_rng = None
        if self.eval_initial and self.initial_row is None and not self.matrix:
            self.initial_row = self.evaluate()['row']
        while self._experience_pos < len(self.experiences) and not self.stop_training:
            self.run_experience(self.current_experience)
        self.runner.call_hook('after_train')
        return self.runner.model

    def run_experience(self, experience: Experience) -> None:
        """Start (unless resumed mid-way), train and finish one experience."""
        if self._epoch_in_exp == 0 and self._resume_pass is None:
            self.start_experience(experience)
        if hasattr(self.runner, 'rewrap_model'):
            self.runner.rewrap_model()  # DDP over the parameters trained now
        self.dataloader = self.build_train_loader(experience)
        self.train_experience(experience)
        if not self.stop_training:
            self.finish_experience(experience)

    def start_experience(self, experience: Experience) -> None:
        """Method and hook ``before_experience``; fresh optimizer if configured."""
        self.algorithm.before_experience(experience)
        if self.reset_optimizer:
            self.rebuild_optimizer(experience)
        else:
            self.algorithm.configure_optimizer(self.runner.optim_wrapper, experience)
        self.runner.call_hook('before_experience', experience=experience)

    def train_experience(self, experience: Experience) -> None:
        """``max_epochs`` epochs over the experience's training data."""
        while self._epoch_in_exp < self.epochs_of(experience.index) and not self.stop_training:
            self.run_epoch()

    def run_epoch(self) -> None:
        """One epoch; counters advance before ``after_train_epoch`` so checkpoints saved
        there record the finished epoch."""
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        if hasattr(self.dataloader.sampler, 'set_epoch'):
            self.dataloader.sampler.set_epoch(self._epoch)
        start = time.perf_counter()
        for idx, data_batch in enumerate(self.dataloader):
            self.run_iter(idx, data_batch)
        self.train_time += time.perf_counter() - start
        self.end_epoch()

    def end_epoch(self) -> None:
        """Advance the counters, make the ranks' running statistics one (so evaluation,
        teachers and checkpoints see the same model everywhere), call the hooks."""
        average_buffers_(self.algorithm)
        self._epoch += 1
        self._epoch_in_exp += 1
        self.runner.call_hook('after_train_epoch')

    def run_iter(self, idx: int, data_batch: dict) -> None:
        """One optimisation step, with a clear error on a non-finite loss."""
        self.runner.call_hook('before_train_iter', batch_idx=idx, data_batch=data_batch)
        try:
            outputs = self.runner.model.train_step(data_batch,
                                                   optim_wrapper=self.runner.optim_wrapper)
        except NonFiniteLossError as e:
            exp = self.current_experience
            raise NonFiniteLossError(
                f'{e} at experience {exp.index if exp else "?"}, epoch {self._epoch_in_exp}, '
                f'iteration {idx} (global {self._iter}). Training stopped and nothing was '
                f'saved after the last good checkpoint in "{self.runner.work_dir}". Lower '
                'the learning rate or add gradient clipping (optim_wrapper.clip_grad).'
            ) from None
        self.images_seen += _batch_size(data_batch) * world()[1]  # over all processes
        self.runner.call_hook('after_train_iter', batch_idx=idx, data_batch=data_batch,
                              outputs=outputs)
        self._iter += 1

    def after_stream_step(self) -> None:
        """The ``after_stream_step`` hook stage: a position where the loop's state is
        whole (counters advanced, nothing half-done), so a checkpoint saved there resumes
        exactly (loops that support mid-pass checkpoints call it; see
        :meth:`pass_state`)."""
        self.runner.call_hook('after_stream_step')

    def pass_state(self) -> Optional[dict]:
        """The position inside the current pass, for a checkpoint saved mid-pass; None
        when the loop cannot resume mid-pass (checkpoints are then saved at epoch and
        experience ends only)."""
        return None

    def finish_experience(self, experience: Experience) -> None:
        """Consolidate, then evaluate and run the ``after_experience`` hooks."""
        self.consolidate(experience)
        self.record(experience)

    def consolidate(self, experience: Experience) -> None:
        """The method's ``after_experience``, then one ``observe`` pass over the new data."""
        algorithm = self.algorithm
        algorithm.after_experience(experience, self.dataloader)
        if algorithm.observes:
            loader = build_loader(self.dataloader_cfg, algorithm.observe_dataset(experience),
                                  self.runner.seed,
                                  shuffle=False, pad=False, persistent=False)  # each once
            for data_batch in loader:
                algorithm.observe(data_batch)

    def record(self, experience: Experience) -> None:
        """Evaluate the test stream (a matrix row), advance, then the two end-of-experience
        hook stages: ``after_experience_eval`` (metrics, then the checkpoint) and
        ``after_experience`` (results, plots, loggers)."""
        result = self.evaluate()
        self.matrix.append(result['row'])
        self.history.append(dict(experience=experience.index, metrics=result['metrics'],
                                 details=result.get('details', {})))
        self._experience_pos += 1
        self._epoch_in_exp = 0
        self.runner.call_hook('after_experience_eval', experience=experience, result=result)
        self.runner.call_hook('after_experience', experience=experience, result=result)

    # -------------------------------------------------------------- helpers
    def build_train_loader(self, experience: Experience):
        """A loader over what the method trains on for ``experience``."""
        dataset = self.algorithm.train_dataset(experience, self.runner.scenario.train_stream)
        batch_size = self.algorithm.train_batch_size(
            experience, self.dataloader_cfg.get('batch_size', 1))
        return build_loader(self.dataloader_cfg, dataset, self.runner.seed,
                            batch_size=batch_size)

    def rebuild_optimizer(self, experience: Experience) -> None:
        """Fresh optimizer wrapper (adjusted by the method's ``configure_optimizer``) and
        param schedulers from the config."""
        runner = self.runner
        runner.optim_wrapper = runner.build_optim_wrapper(copy.deepcopy(runner.cfg.optim_wrapper))
        runner.param_schedulers = None  # mmengine's scale_lr runs before schedulers exist
        runner.scale_lr(runner.optim_wrapper, runner.auto_scale_lr)
        self.algorithm.configure_optimizer(runner.optim_wrapper, experience)
        if runner.cfg.get('param_scheduler') is not None:
            runner.param_schedulers = runner.build_param_scheduler(
                self.experience_schedulers(runner.cfg.param_scheduler, experience))
        runner.optim_wrapper.initialize_count_status(runner.model, self._iter, self.max_iters)

    def experience_schedulers(self, cfg, experience: Experience):
        """A copy of the ``param_scheduler`` config for ``experience``: with per-experience
        epochs, epoch-based schedulers ending at the first experience's epoch count end at
        this experience's instead."""
        cfg = copy.deepcopy(cfg)
        written_for, epochs = self.epoch_schedule[0], self.epochs_of(experience.index)
        if len(self.epoch_schedule) == 1 or epochs == written_for:
            return cfg
        for item in (cfg if isinstance(cfg, (list, tuple)) else [cfg]):
            if hasattr(item, 'get') and item.get('by_epoch', True) and \
                    item.get('end') == written_for:
                item['end'] = epochs
        return cfg

    def evaluate(self) -> dict:
        """Evaluate the whole test stream through the runner's val loop."""
        val_loop = self.runner.val_loop
        if val_loop is None:
            raise RuntimeError('the train loop evaluates after every experience: set '
                               'val_dataloader, val_cfg and val_evaluator in the config.')
        return val_loop.evaluate_stream()

    def check_num_classes(self) -> None:
        """Stop early when the stream has labels the model cannot output."""
        task_model = getattr(self.algorithm, 'model', None)
        head = getattr(task_model, 'head', None) or getattr(task_model, 'decode_head', None)
        num_classes = getattr(head, 'num_classes', None)
        scenario_classes = self.runner.scenario.num_classes
        if num_classes is not None and scenario_classes > num_classes:
            raise ValueError(
                f'the scenario has class ids up to {scenario_classes - 1} but the model head '
                f'has num_classes={num_classes}. Set the head\'s num_classes to '
                f'{scenario_classes} (e.g. --cfg-options '
                f'model.model.head.num_classes={scenario_classes}).')

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """Loop position, metrics so far and RNG states (checkpoint meta)."""
        pos = self._experience_pos
        next_experience = (self.experiences[pos] if pos < len(self.experiences)
                           else (self.experiences[-1] + 1 if self.experiences else 0))
        return dict(next_experience=next_experience, epoch_in_exp=self._epoch_in_exp,
                    epoch=self._epoch, iter=self._iter, matrix=self.matrix,
                    history=self.history, initial_row=self.initial_row,
                    images_seen=self.images_seen, train_time=self.train_time,
                    wall_time=self._wall_time,
                    stream_fraction=self._iter / self.max_iters if self.max_iters else None,
                    pass_state=self.pass_state(),
                    pass_ranks=gather_objects(self.pass_state()) if world()[1] > 1 else None,
                    rng=get_rng_state(), world_size=world()[1],
                    rng_ranks=gather_objects(get_rng_state()) if world()[1] > 1 else None)

    def load_state_dict(self, state: dict) -> None:
        """Restore a position; RNG states are applied when :meth:`run` starts."""
        nxt = state['next_experience']
        self._experience_pos = next(
            (k for k, i in enumerate(self.experiences) if i >= nxt), len(self.experiences))
        if state['epoch_in_exp'] and nxt not in self.experiences:
            raise ValueError(f'the checkpoint stopped inside experience {nxt}, which this '
                             f'config does not train (train_cfg.experiences='
                             f'{self.experiences}).')
        self._epoch_in_exp = state['epoch_in_exp']
        self._epoch, self._iter = state['epoch'], state['iter']
        self.matrix, self.history = state['matrix'], state['history']
        self.initial_row = state['initial_row']
        self.images_seen, self.train_time = state['images_seen'], state['train_time']
        self._wall_time = state.get('wall_time', 0.0)
        # each rank's own position in the pass (its drawn batches differ)
        self._resume_pass = state['pass_ranks'][world()[0]] if state.get('pass_ranks') \
            else state.get('pass_state')
        # the runner checked that this run has the checkpoint's number of processes
        self._pending_rng = state['rng_ranks'][world()[0]] if state.get('rng_ranks') \
            else state['rng']


def epoch_schedule(max_epochs) -> List[int]:
    """``train_cfg.max_epochs`` as a list of per-experience epoch counts."""
    values = list(max_epochs) if isinstance(max_epochs, (list, tuple)) else [max_epochs]
    if not values or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0
                         for v in values):
        raise ValueError(f'train_cfg.max_epochs must be an int >= 0 or a non-empty list of '
                         f'them (epochs of each experience, the last repeating), got '
                         f'{max_epochs!r}.')
    return [int(v) for v in values]


def check_batch_size(batch_size) -> None:
    """``train_dataloader.batch_size`` is per process (as in mmengine) and must be >= 1."""
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        world_size = world()[1]
        raise ValueError(
            f'train_dataloader.batch_size must be a positive integer, got {batch_size!r}. '
            f'It is the batch of each process (this run has {world_size}): for a global '
            f'batch B on N processes set it to B // N (e.g. --cfg-options '
            f'train_dataloader.batch_size=16 for 32 on 2 processes).')


def _batch_size(data_batch) -> int:
    inputs = data_batch['inputs'] if isinstance(data_batch, dict) else data_batch[0]
    return len(inputs)
