"""A progress bar with ETA over the training stream and each evaluation."""
import sys

from mmengine.hooks import Hook

from clbox.registry import HOOKS


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """tqdm bars: one over all training iterations of the stream (with ETA), one per
    evaluation of the test stream. Shown only on an interactive terminal unless
    ``force=True`` (mmengine's LoggerHook still prints ETA in its log lines).

    Args:
        force (bool): Show bars even when stderr is not a terminal. Defaults to False.
    """

    priority = 'BELOW_NORMAL'

    def __init__(self, force: bool = False):
        self.disable = not (force or sys.stderr.isatty())
        self._train = self._eval = None
        self._shown_experience = None

    def _tqdm(self, **kwargs):
        if self.disable:  # nothing to draw: no bar object to update per iteration
            return None
        from tqdm import tqdm
        return tqdm(dynamic_ncols=True, leave=False, **kwargs)

    def before_train(self, runner) -> None:
        loop = runner.train_loop
        self._train = self._tqdm(total=loop.max_iters, initial=loop.iter, desc='train')

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self._train is not None:
            exp = runner.train_loop.current_experience
            index = exp.index if exp else '-'
            if index != self._shown_experience:  # the postfix changes once per experience
                self._shown_experience = index
                self._train.set_postfix_str(f'exp {index}', refresh=False)
            self._train.update(1)

    def after_train(self, runner) -> None:
        if self._train is not None:
            self._train.close()

    def before_stream_eval(self, runner, num_experiences: int) -> None:
        self._eval = self._tqdm(desc='eval', unit='batch')

    def after_stream_eval_iter(self, runner, experience_index: int) -> None:
        if self._eval is not None:
            self._eval.update(1)

    def after_stream_eval(self, runner, result=None) -> None:
        if self._eval is not None:
            self._eval.close()
