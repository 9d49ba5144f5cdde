"""Evaluation of a model on the whole test stream (validation after each experience, and
``tools/test.py``)."""
import copy
import os.path as osp

import torch
from mmengine.runner import BaseLoop

from clbox.dist import is_main
from clbox.registry import EVALUATORS, LOOPS
from ..utils import build_loader, dump_json, unwrap


@LOOPS.register_module()
class StreamValLoop(BaseLoop):
    """Evaluate every experience of the test stream in one batched, gradient-free pass.

    Args:
        runner (ContinualRunner): The runner.
        dataloader (dict): ``val_dataloader``/``test_dataloader`` config without ``dataset``.
        evaluator (dict): A stream evaluator config (``EVALUATORS``), e.g.
            ``dict(type='ClsStreamEvaluator', topk=(1, 5))``.
    """

    def __init__(self, runner, dataloader: dict, evaluator: dict):
        self._runner = runner
        self.dataloader_cfg = {k: v for k, v in dict(dataloader).items() if k != 'dataset'}
        self.evaluator = EVALUATORS.build(copy.deepcopy(evaluator)) \
            if isinstance(evaluator, dict) else evaluator
        if hasattr(self.evaluator, 'bind_work_dir'):   # evaluators that write files
            self.evaluator.bind_work_dir(runner.work_dir)
        self._loaders = None

    def loaders(self):
        """One loader per test experience (built once)."""
        if self._loaders is None:
            self._loaders = [build_loader(self.dataloader_cfg, exp.dataset, self.runner.seed,
                                          shuffle=False, pad=False, persistent=False)
                             for exp in self.runner.scenario.test_stream]
        return self._loaders

    @property
    def dataloader(self):
        """The first test experience's loader (what mmengine's Runner reports)."""
        return self.loaders()[0]

    @torch.no_grad()
    def evaluate_stream(self) -> dict:
        """Row of per-experience scores, metrics and details (see ``BaseStreamEvaluator``)."""
        model = unwrap(self.runner.model)
        was_training = model.training
        model.eval()
        loaders = self.loaders()
        self.evaluator.reset(len(loaders), self.runner.scenario.num_classes)
        self.runner.call_hook('before_stream_eval', num_experiences=len(loaders))
        for j, loader in enumerate(loaders):
            for data_batch in loader:
                self.evaluator.process(model, data_batch, j)
                self.runner.call_hook('after_stream_eval_iter', experience_index=j)
        result = self.evaluator.compute()
        self.runner.call_hook('after_stream_eval', result=result)
        model.train(was_training)
        return result

    def run(self) -> dict:
        """mmengine's ``val`` entry: evaluate and return the metrics."""
        self.runner.call_hook('before_val')
        self.runner.call_hook('before_val_epoch')
        result = self.evaluate_stream()
        metrics = dict(result['metrics'])
        metrics.update({f'experience_{j}': v for j, v in enumerate(result['row'])})
        self.runner.call_hook('after_val_epoch', metrics=metrics)
        self.runner.call_hook('after_val')
        return metrics


@LOOPS.register_module()
class StreamTestLoop(StreamValLoop):
    """``tools/test.py``: evaluate a checkpoint on the whole test stream, print the accuracy
    row and the metrics, and write them to ``work_dir/test_results.json``."""

    def run(self) -> dict:
        self.runner.call_hook('before_test')
        self.runner.call_hook('before_test_epoch')
        result = self.evaluate_stream()
        row = [round(v, 2) for v in result['row']]
        self.runner.logger.info(f'accuracy row (per test experience): {row}')
        for name, value in result['metrics'].items():
            self.runner.logger.info(f'{name}: {value:.2f}')
        out = dict(row=result['row'], average_accuracy=sum(result['row']) / max(len(row), 1),
                   metrics=result['metrics'], details=result.get('details', {}),
                   checkpoint=self.runner._load_from)
        if is_main():
            dump_json(out, osp.join(self.runner.work_dir, 'test_results.json'))
        metrics = dict(result['metrics'], average_accuracy=out['average_accuracy'])
        self.runner.call_hook('after_test_epoch', metrics=metrics)
        self.runner.call_hook('after_test')
        return metrics
