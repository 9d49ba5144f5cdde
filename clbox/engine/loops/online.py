"""The online train loop: one pass of small incoming batches, several updates each."""
from typing import Optional

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
        super().__init__(runner, dataloader, **kwargs)

    @property
    def buffered(self) -> bool:
        """Whether updates draw from a stream buffer (continuous SSL)."""
        from clbox.buffers.stream import StreamBuffer
        return isinstance(getattr(self.algorithm, 'buffer', None), StreamBuffer)

    @property
    def max_iters(self) -> int:
        """This rank's updates over the stream (each rank gets ``ceil(len / world)``
        samples of every experience; with a stream buffer, its whole chunks)."""
        stream = self.runner.scenario.train_stream
        if self.buffered:
            return sum(len(self.stream_sampler(stream[i]).indices()) for i in
                       self.experiences) * self.num_updates // self.stream_batch_size
        world_size = world()[1]
        return sum(-(-(-(-len(stream[i]) // world_size)) // self.stream_batch_size)
                   for i in self.experiences) * self.num_updates

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
        """The single pass: ``num_updates`` steps then ``observe`` per incoming batch."""
        if self.buffered:
            return self.run_buffered_pass()
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        if hasattr(self.dataloader.sampler, 'set_epoch'):
            self.dataloader.sampler.set_epoch(self._epoch)
        algorithm = self.algorithm
        for idx, data_batch in enumerate(self.dataloader):
            for _ in range(self.num_updates):
                self.run_iter(idx, data_batch)
            if algorithm.observes:
                algorithm.observe(data_batch)
        self.end_epoch()

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
        loader = build_batch_loader(self.dataloader_cfg, experience.dataset,
                                    _IndexLists(schedule), self.runner.seed)
        for idx, data_batch in enumerate(loader):
            self.run_iter(idx, data_batch)
        self.end_epoch()


class _IndexLists:
    """A batch sampler view of an update schedule: lists of ints, and its length."""

    def __init__(self, schedule):
        self.schedule = schedule

    def __iter__(self):
        return (batch.tolist() for batch in self.schedule)

    def __len__(self) -> int:
        return len(self.schedule)
