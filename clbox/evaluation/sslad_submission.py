"""The SSLAD 2021 Track 3A submission: each test sample's 7 logits at every evaluation point.

The starter kit's ``--test --store`` run (``classification.py``, the Avalanche fork's class
evaluation plugin; ``../shared/specs/sslad-3a.md`` sec. 1.5) evaluates the hidden-label
test files after each of the 6 tasks and appends one block per evaluation point to
``<name>_<k>_output.txt``, ``k`` the test file's position; each line holds one sample's 7
logits, comma-separated, in the file's sample order. Codalab scores them.

:class:`SSLADSubmissionWriter` writes those files. Each evaluation point's block is kept
under ``<out_dir>/blocks/`` (``<k>_<point>.txt``, the point being the index of the last
task trained) and every output file is rebuilt from its blocks in point order, written
atomically: a point evaluated twice (a resumed run, ``tools/test.py`` on a checkpoint)
replaces its block instead of adding one, and no file is ever half-written.
"""
import glob
import os
import os.path as osp
from typing import Dict, List

import numpy as np

from clbox.registry import EVALUATORS
from .classification import BaseStreamEvaluator


@EVALUATORS.register_module()
class SSLADSubmissionWriter(BaseStreamEvaluator):
    """Write the Track 3A submission files of a test stream without labels.

    Args:
        out_dir (str): Folder of the submission (created). A relative path is inside
            the run's work_dir.
        name (str): File name prefix (the kit's ``--name``). Defaults to 'submission'.
        num_logits (int): Logits per line. Defaults to 7 (the challenge's).

    ``compute`` returns no accuracy (the labels are hidden): ``row`` is zeros and
    ``metrics`` counts the samples written.
    """

    def __init__(self, out_dir: str, name: str = 'submission', num_logits: int = 7):
        if not name or os.sep in name:
            raise ValueError(f'SSLADSubmissionWriter: name must be a plain file prefix, '
                             f'got {name!r}.')
        self.out_dir, self.name, self.num_logits = out_dir, name, int(num_logits)
        self._point = 0

    def bind_work_dir(self, work_dir: str) -> None:
        """Resolve a relative ``out_dir`` inside the run's work_dir (the evaluation loop
        calls this)."""
        if not osp.isabs(self.out_dir):
            self.out_dir = osp.join(work_dir, self.out_dir)

    def reset(self, num_experiences: int, num_classes: int) -> None:
        self.num_experiences = num_experiences
        self._lines: Dict[int, List[str]] = {k: [] for k in range(num_experiences)}

    def process(self, algorithm, data: dict, experience_index: int) -> None:
        scores, _ = algorithm.predict_scores(data)
        if scores.size(1) != self.num_logits:
            raise ValueError(f'SSLADSubmissionWriter: the model outputs {scores.size(1)} '
                             f'scores per sample; the submission needs {self.num_logits} '
                             '(set the head num_classes to 7).')
        self._point = int(getattr(algorithm, 'experience_index', 0))
        values = scores.detach().float().cpu().numpy()
        self._lines[experience_index] += [','.join(format(float(v), '.9g') for v in row)
                                          for row in values]

    def output_file(self, k: int) -> str:
        """The submission file of test file ``k``."""
        return osp.join(self.out_dir, f'{self.name}_{k}_output.txt')

    def compute(self) -> dict:
        from clbox.engine.utils import atomic_write
        from mmengine.dist import get_world_size
        if get_world_size() > 1:
            raise RuntimeError('SSLADSubmissionWriter collects the logits of one process: '
                               'evaluate the test files without a launcher.')
        blocks = osp.join(self.out_dir, 'blocks')
        os.makedirs(blocks, exist_ok=True)
        for k, lines in self._lines.items():
            atomic_write(osp.join(blocks, f'{k}_{self._point}.txt'),
                         lambda f, lines=lines: f.write(''.join(l + '\n' for l in lines)))
            parts = sorted(glob.glob(osp.join(blocks, f'{k}_*.txt')),
                           key=lambda p: int(osp.basename(p)[:-4].split('_')[1]))

            def _assemble(f, parts=parts):
                for part in parts:
                    with open(part) as src:
                        f.write(src.read())
            atomic_write(self.output_file(k), _assemble)
        written = sum(len(v) for v in self._lines.values())
        return dict(row=np.zeros(self.num_experiences).tolist(),
                    metrics=dict(submission_samples=float(written)),
                    details=dict(submission_point=self._point,
                                 submission_files=[self.output_file(k) for k in self._lines]))
