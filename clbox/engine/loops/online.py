"""The online train loop: one pass of small incoming batches, several updates each."""
import time
from collections import deque
from typing import Optional

from torch.utils.data import BatchSampler

from clbox.dist import world
from clbox.registry import LOOPS
from clbox.scenarios.base import Experience
from ..utils import build_batch_loader, build_loader
from .experience import ExperienceBasedTrainLoop


@LOOPS.register_module()
class OnlineTrainLoop(ExperienceBasedTrainLoop):
    """Online continual learning: each sample is seen once, in small incoming batches.

    For every incoming batch the method takes ``num_updates`` optimisation steps (each
    ``loss`` may mix in replayed samples, as ER does) and then ``observe``s the batch (buffer
    insertion). The test stream is evaluated at every experience boundary, whether or not the
    method is told about boundaries.

    When the method's buffer is a stream buffer (:class:`~clbox.buffers.FIFOBuffer`,
    :class:`~clbox.buffers.MinRedBuffer`: continuous self-supervised learning), the stream
    is dealt to ranks in whole incoming batches (:class:`~clbox.scenarios.ChunkSampler`),
    each incoming batch enters the buffer, and the updates train on batches drawn from the
    buffer, read and augmented again at every draw (:class:`~clbox.buffers.BufferedUpdates`:
    none while the buffer fills, the skipped ones at the end; ``stream length x
    num_updates / batch_size`` updates per rank in all).

    Args:
        runner (ContinualRunner): The runner.
        dataloader (dict): ``train_dataloader`` config without ``dataset``.
        num_updates (int): Steps per incoming batch. Defaults to 1.
        batch_size (int, optional): Incoming batch size. Defaults to the scenario's
            (``OnlineStream.batch_size``) or the dataloader's.
        boundaries (str, optional): 'given' or 'hidden'. Defaults to the scenario's, else
            'given'. With 'hidden' the method's ``before_experience`` runs once at the start
            and ``after_experience`` never.
        shuffle (bool, optional): Shuffle the stream. Defaults to the scenario's, else True.
        block (int, optional): With a stream buffer, keep blocks of this many consecutive
            indices whole and contiguous (the frames of a video:
            ``ChunkSampler(block=...)``). Defaults to None.
        **kwargs: ``reset_optimizer``, ``experiences``, ``eval_initial`` as in
            :class:`ExperienceBasedTrainLoop` (``reset_optimizer`` applies at given
            boundaries only).
    """

    def __init__(self, runner, dataloader: dict, num_updates: int = 1,
                 batch_size: Optional[int] = None, boundaries: Optional[str] = None,
                 shuffle: Optional[bool] = None, block: Optional[int] = None, **kwargs):
        kwargs['max_epochs'] = 1
        scenario = runner.scenario
        self.num_updates = int(num_updates)
        self.stream_batch_size = (batch_size or getattr(scenario, 'batch_size', None)
                                  or dataloader.get('batch_size', 10))
        self.boundaries = boundaries or getattr(scenario, 'boundaries', 'given')
        if self.boundaries not in ('given', 'hidden'):
            raise ValueError(f"boundaries must be 'given' or 'hidden', got "
                             f'{self.boundaries!r}.')
        self.shuffle = shuffle if shuffle is not None else getattr(scenario, 'shuffle', True)
        self.block = block
        self._pass_position = None   # a callable giving the current pass's position
        self._max_iters_cache = None
        super().__init__(runner, dataloader, **kwargs)
        check_rules(scenario, self.stream_batch_size, getattr(self.algorithm, 'buffer', None))

    @property
    def buffered(self) -> bool:
        """Whether updates draw from a stream buffer (continuous SSL)."""
        from clbox.buffers.stream import StreamBuffer
        return isinstance(getattr(self.algorithm, 'buffer', None), StreamBuffer)

    @property
    def max_iters(self) -> int:
        """This rank's updates over the stream (each rank gets ``ceil(len / world)``
        samples of every experience; with a stream buffer, its whole chunks)."""
        if self._max_iters_cache is None:
            stream = self.runner.scenario.train_stream
            if self.buffered:
                total = sum(len(self.stream_sampler(stream[i]).indices()) for i in
                            self.experiences) * self.num_updates // self.stream_batch_size
            else:
                world_size = world()[1]
                total = sum(-(-(-(-len(stream[i]) // world_size)) // self.stream_batch_size)
                            for i in self.experiences) * self.num_updates
            self._max_iters_cache = total
        return self._max_iters_cache

    def stream_sampler(self, experience: Experience):
        """How the experience's stream is dealt to this rank, in incoming batches."""
        from clbox.scenarios.stream_sampler import ChunkSampler
        sampler = ChunkSampler(len(experience.dataset), self.stream_batch_size,
                               shuffle=self.shuffle, seed=self.runner.seed, block=self.block)
        sampler.set_epoch(experience.index)
        return sampler

    def build_train_loader(self, experience: Experience):
        return build_loader(self.dataloader_cfg, experience.dataset, self.runner.seed,
                            shuffle=self.shuffle, batch_size=self.stream_batch_size)

    def start_experience(self, experience: Experience) -> None:
        if self.boundaries == 'given' or self._experience_pos == 0:
            super().start_experience(experience)

    def run_epoch(self) -> None:
        """The single pass: ``num_updates`` steps then ``observe`` per incoming batch
        (``after_stream_step`` after each; a checkpoint saved there resumes exactly)."""
        if self.buffered:
            return self.run_buffered_pass()
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        if hasattr(self.dataloader.sampler, 'set_epoch'):
            self.dataloader.sampler.set_epoch(self._epoch)
        algorithm = self.algorithm
        done = 0
        loader = self.dataloader
        if self._resume_pass is not None:
            done = int(self._check_pass_kind('incoming')['incoming_batches'])
            self._resume_pass = None
            batches = list(BatchSampler(loader.sampler, self.stream_batch_size,
                                        drop_last=loader.drop_last))
            loader = build_batch_loader(self.dataloader_cfg, self.current_experience.dataset,
                                        batches[done:], self.runner.seed)
        position = dict(kind='incoming', incoming_batches=done)
        self._pass_position = lambda: dict(position)
        start = time.perf_counter()
        for idx, data_batch in enumerate(loader, start=done):
            for _ in range(self.num_updates):
                self.run_iter(idx, data_batch)
            if algorithm.observes:
                algorithm.observe(data_batch)
            position['incoming_batches'] = idx + 1
            self.after_stream_step()
        self.train_time += time.perf_counter() - start
        self._pass_position = None
        self.end_epoch()

    def pass_state(self) -> Optional[dict]:
        """Inside a pass: how far it went (incoming batches done; with a stream buffer,
        the update schedule's position and the batches already drawn but not yet trained
        on). The buffer itself is part of the method's state. With several processes,
        also this rank's model buffers (BN running statistics are per rank until the
        pass ends and they are averaged: the checkpoint's weights are rank 0's)."""
        if self._pass_position is None:
            return None
        state = self._pass_position()
        if world()[1] > 1:
            state['model_buffers'] = {k: v.detach().cpu().clone() for k, v in
                                      self.algorithm.named_buffers()}
        return state

    def _check_pass_kind(self, kind: str) -> dict:
        """The saved mid-pass position, checked, with this rank's model buffers put back."""
        state = self._resume_pass
        if state.get('kind') != kind:
            raise ValueError(
                f"the checkpoint was saved inside a {state.get('kind')!r} pass but this config "
                f'trains a {kind!r} pass (the method\'s buffer type differs?): resume with the '
                'config that wrote it, or start from its weights with load_from.')
        saved = state.get('model_buffers')
        if saved:
            for name, buf in self.algorithm.named_buffers():
                if name in saved:
                    buf.copy_(saved[name].to(buf.device))
        return state

    def consolidate(self, experience: Experience) -> None:
        """Samples were observed as they came; only a given boundary is announced."""
        if self.boundaries == 'given':
            self.algorithm.after_experience(experience, self.dataloader)

    def run_buffered_pass(self) -> None:
        """The single pass through a stream buffer: each update trains on a batch drawn
        from the buffer (fetched and augmented anew), its results go back to the buffer
        through the method (e.g. MinRed's features) before the next draw."""
        from clbox.buffers.stream import BufferedUpdates
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        experience = self.current_experience
        chunks = self.stream_sampler(experience).chunks()
        schedule = BufferedUpdates(self.algorithm.buffer, chunks, self.num_updates,
                                   self.stream_batch_size)
        drawn, done = [], 0
        if self._resume_pass is not None:
            state = self._check_pass_kind('buffered')
            schedule.load_state_dict(state['schedule'])
            drawn, done = state['drawn'], int(state['updates'])
            self._resume_pass = None
        lists = _IndexLists(schedule, drawn)
        loader = build_batch_loader(self.dataloader_cfg, experience.dataset, lists,
                                    self.runner.seed)
        position = dict(updates=done)
        self._pass_position = lambda: dict(kind='buffered', schedule=schedule.state_dict(),
                                           drawn=lists.pending(), **position)
        start = time.perf_counter()
        for idx, data_batch in enumerate(loader, start=done):
            lists.trained()
            self.run_iter(idx, data_batch)
            position['updates'] = idx + 1
            self.after_stream_step()
        self.train_time += time.perf_counter() - start
        self._pass_position = None
        self.end_epoch()


def check_rules(scenario, batch_size: int, buffer) -> None:
    """A scenario's ``rules`` (a challenge's limits, e.g. SSLAD Track 3A's
    ``max_batch_size`` 10 and ``max_memory`` 1,000 samples), checked before training.

    Raises:
        ValueError: Naming the rule, the value and the config key to change.
    """
    rules = getattr(scenario, 'rules', None) or {}
    name = type(scenario).__name__
    limit = rules.get('max_batch_size')
    if limit is not None and batch_size > limit:
        raise ValueError(f'{name} allows incoming batches of at most {limit} samples; this '
                         f'run streams {batch_size}. Set scenario.batch_size (or '
                         f'train_cfg.batch_size) to {limit} or less.')
    limit = rules.get('max_memory')
    size = getattr(buffer, 'total_size', None) if buffer is not None else None
    if limit is not None and size is not None and size > limit:
        raise ValueError(f'{name} allows a replay memory of at most {limit} samples; the '
                         f'method\'s {type(buffer).__name__} holds {size}. Set '
                         f'model.buffer.size to {limit} or less.')


class _IndexLists:
    """A batch sampler view of an update schedule: lists of ints, and its length.

    The loader may draw batches ahead of training (its prefetching); the ones drawn and
    not yet trained on are kept (:meth:`pending`), so a checkpoint can replay them first
    and then continue the schedule from its saved position.

    Args:
        schedule (BufferedUpdates): The schedule.
        replay (list[list[int]]): Batches drawn before a checkpoint and not trained on
            then, yielded first.
    """

    def __init__(self, schedule, replay=()):
        self.schedule = schedule
        self.replay = [list(map(int, b)) for b in replay]
        self._queue = deque()
        self._len = schedule.total - schedule.yielded + len(self.replay)

    def __iter__(self):
        for batch in self.replay:
            self._queue.append(batch)
            yield batch
        for batch in self.schedule:
            batch = batch.tolist()
            self._queue.append(batch)
            yield batch

    def trained(self) -> None:
        """The oldest drawn batch reached the model."""
        self._queue.popleft()

    def pending(self) -> list:
        """Drawn batches not trained on yet, oldest first."""
        return [list(b) for b in self._queue]

    def __len__(self) -> int:
        return self._len
