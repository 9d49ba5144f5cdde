"""results.json, plots and logged scalars after every experience."""
import os.path as osp
import time

from mmengine.hooks import Hook

from clbox.dist import is_main
from clbox.evaluation.continual import forgetting_per_experience, summarize
from clbox.registry import HOOKS
from clbox.visualization.plots import (plot_accuracy_curve, plot_accuracy_matrix,
                                       plot_confusion_matrix)
from ..utils import dump_json, reported


@HOOKS.register_module()
class ContinualResultsHook(Hook):
    """Write ``results.json`` (config, seed, every metric, the accuracy matrix, wall time,
    images/s) after every experience, log the metrics as scalars through the runner's
    visualizer backends (local, TensorBoard, W&B), and draw ``accuracy_matrix.png``,
    ``accuracy_curve.png`` and ``confusion_matrix.png``.

    Drawing three PNGs costs ~0.3 s, which on small models or long streams (391 CORe50
    experiences) is most of an experience's fixed cost, so by default they are drawn
    once, when training ends; ``plots='experience'`` redraws them after every experience.

    Args:
        plots (str | bool): 'end' (or True), 'experience', or False (never).
            Defaults to 'end'.
    """

    priority = 'LOW'

    def __init__(self, plots='end'):
        if plots is True:
            plots = 'end'
        if plots not in ('end', 'experience', False, None):
            raise ValueError(f"ContinualResultsHook: plots must be 'end', 'experience' or "
                             f'False, got {plots!r}.')
        self.plots = plots
        self._start = None
        self._confusion = None

    def before_train(self, runner) -> None:
        self._start = time.perf_counter()
        self._wall_before = getattr(runner.train_loop, '_wall_time', 0.0)

    def after_experience(self, runner, experience, result=None) -> None:
        loop = runner.train_loop
        loop._wall_time = self._wall_before + time.perf_counter() - self._start
        summary = summarize(loop.matrix, loop.initial_row, loop.history)
        step = len(loop.matrix)
        scalars = {f'continual/{k}': v for k, v in summary.items()}
        scalars.update({f'continual/accuracy_exp{j}': v
                        for j, v in enumerate(loop.matrix[-1])})
        forgetting = forgetting_per_experience(loop.matrix)
        scalars.update({f'continual/forgetting_exp{j}': v
                        for j, v in enumerate(forgetting) if v is not None})
        losses = (result or {}).get('details', {}).get('loss_per_experience')
        if losses:
            scalars.update({f'continual/loss_exp{j}': v for j, v in enumerate(losses)})
        runner.visualizer.add_scalars(scalars, step=step)
        runner.logger.info(
            f'after experience {experience.index}: row {[round(v, 1) for v in loop.matrix[-1]]} '
            + ' '.join(f'{k}={v:.2f}' for k, v in summary.items() if not k.startswith('last_'))
            + (f" mca={summary['last_mean_class_accuracy']:.2f}"
               if 'last_mean_class_accuracy' in summary else ''))
        out = dict(
            config=runner.cfg.to_dict() if hasattr(runner.cfg, 'to_dict') else {},
            seed=runner.seed,
            experiences_done=step,
            metrics=summary,
            accuracy_matrix=loop.matrix,
            forgetting_per_experience=forgetting,
            initial_accuracy=loop.initial_row,
            history=loop.history,
            wall_time_s=loop._wall_time,
            train_time_s=loop.train_time,
            images_per_s=loop.images_seen / loop.train_time if loop.train_time else None,
        )
        if not is_main():  # rank 0 writes; the others computed the same numbers
            return
        with reported(runner, 'write results.json'):
            dump_json(out, osp.join(runner.work_dir, 'results.json'))
        self._confusion = (result or {}).get('details', {}).get('confusion_matrix')
        if self.plots == 'experience':
            self.draw(runner)

    def after_train(self, runner) -> None:
        if self.plots == 'end' and is_main() and getattr(runner.train_loop, 'matrix', None):
            self.draw(runner)

    def draw(self, runner) -> None:
        """The three PNGs of the matrix so far (a failure is reported, not raised)."""
        loop = runner.train_loop
        classes = getattr(runner.scenario, 'class_names', None)
        confusion = self._confusion
        for name, plot, args in (
                ('accuracy_matrix.png', plot_accuracy_matrix, (loop.matrix, )),
                ('accuracy_curve.png', plot_accuracy_curve, (loop.matrix, )),
                ('confusion_matrix.png', plot_confusion_matrix, (confusion, ))):
            if args[0]:
                path = osp.join(runner.work_dir, name)
                with reported(runner, f'draw {path}'):
                    if plot is plot_confusion_matrix:
                        plot(*args, path, classes=list(classes) if classes else None)
                    else:
                        plot(*args, path)
