"""Log lines that name the experience being trained."""
from mmengine.runner import LogProcessor

from clbox.registry import LOG_PROCESSORS


@LOG_PROCESSORS.register_module()
class ContinualLogProcessor(LogProcessor):
    """mmengine's ``LogProcessor``; training lines start with ``Experience [i/N]`` (the
    index in the train stream, and the stream's length), e.g.
    ``Experience [3/5] Epoch(train) [2][ 50/120]  lr: ...``. Args as mmengine's."""

    def get_log_after_iter(self, runner, batch_idx: int, mode: str):
        tag, log_str = super().get_log_after_iter(runner, batch_idx, mode)
        if mode == 'train':
            log_str = experience_prefix(runner) + log_str
        return tag, log_str


def experience_prefix(runner) -> str:
    """``'Experience [i/N] '`` of the train loop's current experience, or ''."""
    loop = getattr(runner, '_train_loop', None)       # a config dict until it is built
    experience = getattr(loop, 'current_experience', None)
    if experience is None:
        return ''
    return f'Experience [{experience.index + 1}/{len(runner.scenario.train_stream)}] '
