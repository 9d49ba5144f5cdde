"""CLEAR's matrix metrics and a confusion-matrix image after every experience."""
import os
import os.path as osp

from mmengine.hooks import Hook

from clbox.evaluation.clear import clear_metrics
from clbox.dist import is_main
from clbox.registry import HOOKS
from clbox.visualization.plots import plot_confusion_matrix
from ..utils import dump_json, reported


@HOOKS.register_module()
class CLEARMetricsHook(Hook):
    """Log CLEAR's in-domain, next-domain, accuracy, backward and forward transfer
    (:mod:`clbox.evaluation.clear`) after every experience, write them with the accuracy
    matrix to ``<work_dir>/clear_metrics.json``, and draw the confusion matrix of the
    test stream to ``<work_dir>/confusion/experience_<i>.png``.

    The metrics are added to ``result['metrics']`` in the ``after_experience_eval`` stage,
    before the checkpoint saves the experience, so checkpoints and hooks of lower priority
    (``ContinualResultsHook``) see them.

    Args:
        confusion_images (bool): Write one confusion-matrix PNG per experience.
            Defaults to True.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, confusion_images: bool = True):
        self.confusion_images = confusion_images

    def after_experience_eval(self, runner, experience, result=None) -> None:
        """Compute the metrics into the result (before the checkpoint saves it)."""
        matrix = getattr(runner.train_loop, 'matrix', None)
        if result is not None and matrix:
            result.setdefault('metrics', {}).update(clear_metrics(matrix))

    def after_experience(self, runner, experience, result=None) -> None:
        result = result if result is not None else {}
        matrix = getattr(runner.train_loop, 'matrix', None)
        if not matrix:
            return
        metrics = clear_metrics(matrix)
        runner.visualizer.add_scalars(metrics, step=len(matrix))
        runner.logger.info('CLEAR after experience %d: %s', experience.index,
                           ' '.join(f'{k[6:]}={v:.2f}' for k, v in metrics.items()))
        if not is_main():
            return
        with reported(runner, 'write clear_metrics.json'):
            dump_json(dict(experiences_done=len(matrix), metrics=metrics,
                           accuracy_matrix=matrix,
                           buckets=[e.meta.get('bucket', e.name)
                                    for e in runner.scenario.train_stream[:len(matrix)]]),
                      osp.join(runner.work_dir, 'clear_metrics.json'))
        confusion = result.get('details', {}).get('confusion_matrix')
        if self.confusion_images and confusion:
            folder = osp.join(runner.work_dir, 'confusion')
            path = osp.join(folder, f'experience_{experience.index}.png')
            with reported(runner, f'draw {path}'):
                os.makedirs(folder, exist_ok=True)
                classes = getattr(runner.scenario, 'class_names', None)
                plot_confusion_matrix(confusion, path,
                                      classes=list(classes) if classes else None)
