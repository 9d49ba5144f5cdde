"""The online train loop: one pass of small incoming batches, several updates each."""
from typing import Optional

from clbox.dist import world
from clbox.registry import LOOPS
from clbox.scenarios.base import Experience
from ..utils import build_loader
from .experience import ExperienceBasedTrainLoop


@LOOPS.register_module()
class OnlineTrainLoop(ExperienceBasedTrainLoop):
    """Online continual learning: each sample is seen once, in small incoming batches.

    For every incoming batch the method takes ``num_updates`` optimisation steps (each
    ``loss`` may mix in replayed samples, as ER does) and then ``observe``s the batch (buffer
    insertion). The test stream is evaluated at every experience boundary, whether or not the
    method is told about boundaries.

    Args:
        runner (ContinualRunner): The runner.
        dataloader (dict): ``train_dataloader`` config without ``dataset``.
        num_updates (int): Steps per incoming batch. Defaults to 1.
        batch_size (int, optional): Incoming batch size. Defaults to the scenario's
            (``OnlineStream.batch_size``) or the dataloader's.
        boundaries (str, optional): 'given' or 'hidden'. Defaults to the scenario's, else
            'given'. With 'hidden' the method's ``before_experience`` runs once at the start
            and ``after_experience`` never.
        **kwargs: ``reset_optimizer``, ``experiences``, ``eval_initial`` as in
            :class:`ExperienceBasedTrainLoop` (``reset_optimizer`` applies at given
            boundaries only).
    """

    def __init__(self, runner, dataloader: dict, num_updates: int = 1,
                 batch_size: Optional[int] = None, boundaries: Optional[str] = None,
                 **kwargs):
        kwargs['max_epochs'] = 1
        scenario = runner.scenario
        self.num_updates = int(num_updates)
        self.stream_batch_size = (batch_size or getattr(scenario, 'batch_size', None)
                                  or dataloader.get('batch_size', 10))
        self.boundaries = boundaries or getattr(scenario, 'boundaries', 'given')
        if self.boundaries not in ('given', 'hidden'):
            raise ValueError(f"boundaries must be 'given' or 'hidden', got "
                             f'{self.boundaries!r}.')
        self.shuffle = getattr(scenario, 'shuffle', True)
        super().__init__(runner, dataloader, **kwargs)

    @property
    def max_iters(self) -> int:
        """This rank's updates over the stream (each rank gets ``ceil(len / world)``
        samples of every experience)."""
        stream = self.runner.scenario.train_stream
        world_size = world()[1]
        return sum(-(-(-(-len(stream[i]) // world_size)) // self.stream_batch_size)
                   for i in self.experiences) * self.num_updates

    def build_train_loader(self, experience: Experience):
        return build_loader(self.dataloader_cfg, experience.dataset, self.runner.seed,
                            shuffle=self.shuffle, batch_size=self.stream_batch_size)

    def start_experience(self, experience: Experience) -> None:
        if self.boundaries == 'given' or self._experience_pos == 0:
            super().start_experience(experience)

    def run_epoch(self) -> None:
        """The single pass: ``num_updates`` steps then ``observe`` per incoming batch."""
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
