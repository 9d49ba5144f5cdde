"""The SSLAD 2021 Track 3A stream: six tasks of SODA10M objects in time order.

Facts from the starter kit (``VerwimpEli/SSLAD_Track_3``, ``track3A/classification_util.py``
and ``classification.py``; ``../shared/specs/sslad-3a.md`` sec. 1.4-1.5):

* the six tasks all come from SODA10M's **val** split, each an exact (date, period) match:
  20191111 Daytime, 20191111 Night, 20191117 Daytime, 20191117 Night, 20191120 Daytime,
  20191121 Night; objects in time order (:func:`~clbox.scenarios.soda10m.chronological_order`);
* one pass, incoming batches of 10, no shuffling, task boundaries given;
* evaluation after each task on the validation sets V1 + V2 pooled (one test experience):
  V1 = the val-split objects outside the six tasks' (date, period) predicates (dates other
  than 20191111, 20191117, 20191120, and not 20191121 at Night); V2 = train-split
  Tricycles, plus Cyclists dated 20181015 at 152030 or 160000;
* the challenge's rules: a replay memory of at most 1,000 samples and batches of at most 10
  (:attr:`SSLAD3A.rules`, enforced by the online loop);
* the hidden-label test set: ``<data_root>/test_track3A/*`` pickles of the kit's
  ``HaitainObjectTestSet`` (``.samples``: already normalised (3, 64, 64) tensors), one test
  experience per file in the order of the integer in its first two characters
  (``classification_util.create_test_set_from_pkl``); read with
  :func:`~clbox.scenarios.safe_pickle.restricted_load`, never ``pickle.load``.
"""
import os
import os.path as osp
from typing import Optional, Sequence

import torch
from torch.utils.data import ConcatDataset, Dataset

from clbox.registry import SCENARIOS
from .base import BaseScenario, Experience, subset
from .soda10m import SODA10M, chronological_order

#: (date, period) of the six training tasks, in stream order.
TASKS = (('20191111', 'Daytime'), ('20191111', 'Night'), ('20191117', 'Daytime'),
         ('20191117', 'Night'), ('20191120', 'Daytime'), ('20191121', 'Night'))


def in_v1(entry: dict) -> bool:
    """Whether a val-split object belongs to V1 (outside every task's predicate)."""
    date = entry['date']
    return date not in ('20191111', '20191117', '20191120') and \
        not (date == '20191121' and entry['period'] == 'Night')


def in_v2(entry: dict) -> bool:
    """Whether a train-split object belongs to V2 (Tricycles; Cyclists of 20181015 at
    152030 or 160000)."""
    label = entry['gt_label']
    return label == 6 or (label == 2 and entry['date'] == '20181015'
                          and entry['time'] in ('152030', '160000'))


#: The challenge's normalisation of [0, 1] RGB values (starter kit ``_default_transform``).
MEAN, STD = (0.3252, 0.3283, 0.3407), (0.0265, 0.0241, 0.0252)


class SSLADTestPickle(Dataset):
    """One Track 3A test file: its samples back in raw-pixel scale, dummy label 0.

    The kit's test samples are normalised tensors; the clbox models normalise in their data
    preprocessor (the same statistics x 255), so each sample is given as
    ``(x * std + mean) * 255`` (float, (3, 64, 64)): the preprocessor maps it back to ``x``.

    Args:
        path (str): The pickle.

    Raises:
        ValueError: The file holds no ``samples`` list of (3, H, W) tensors.
    """

    def __init__(self, path: str):
        from mmpretrain.structures import DataSample  # noqa: F401  (checked early)

        from .safe_pickle import restricted_load
        obj = restricted_load(path)
        samples = getattr(obj, 'samples', None)
        if samples is None and isinstance(obj, dict):
            samples = obj.get('samples')
        if not isinstance(samples, (list, tuple)) or not samples or not all(
                torch.is_tensor(x) and x.dim() == 3 for x in samples):
            raise ValueError(f'SSLAD Track 3A test file "{path}" holds no samples list of '
                             f'(3, H, W) tensors (found {type(obj).__name__}): is it one of '
                             'the challenge\'s test_track3A pickles?')
        mean = torch.tensor(MEAN).view(3, 1, 1) * 255
        std = torch.tensor(STD).view(3, 1, 1) * 255
        self.inputs = [x.float() * std + mean for x in samples]
        self.path = path

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, idx: int) -> dict:
        from mmpretrain.structures import DataSample
        return dict(inputs=self.inputs[idx], data_samples=DataSample().set_gt_label(0))


def test_files(folder: str) -> list:
    """The test pickles of ``folder`` in the kit's order (the integer in the first two
    characters of each name).

    Raises:
        FileNotFoundError: The folder is missing or empty.
        ValueError: A name that does not start with two digits.
    """
    if not osp.isdir(folder) or not os.listdir(folder):
        raise FileNotFoundError(f'SSLAD Track 3A test set "{folder}" is missing or empty: put '
                                "the challenge's test_track3A pickles there (in data_root).")
    names = sorted(os.listdir(folder))
    bad = [n for n in names if not n[:2].isdigit()]
    if bad:
        raise ValueError(f'SSLAD Track 3A test files must start with two digits (their order); '
                         f'found {bad} in "{folder}".')
    return [osp.join(folder, n) for n in sorted(names, key=lambda n: int(n[:2]))]


@SCENARIOS.register_module()
class SSLAD3A(BaseScenario):
    """SSLAD 2021 Track 3A: online continual classification of road objects.

    Args:
        data_root (str): SODA10M's ``SSLAD-2D/labeled`` folder.
        pipeline (list): Training pipeline (after the 64 x 64 crop).
        test_pipeline (list, optional): Evaluation pipeline. Defaults to ``pipeline``.
        cache_dir (str, optional): The crop cache of
            ``tools/dataset_converters/soda10m_crops.py``. Defaults to None.
        batch_size (int): Incoming batch. Defaults to 10 (the challenge's maximum).
        test_set (str): 'val' (V1 + V2 pooled, labelled) or 'test' (the hidden-label
            ``test_track3A`` pickles, one test experience per file: write the submission
            with ``SSLADSubmissionWriter``). Defaults to 'val'.

    Attributes:
        rules (dict): ``max_batch_size`` 10, ``max_memory`` 1000 (the challenge's).

    Raises:
        ValueError: A batch above 10.
    """

    rules = dict(max_batch_size=10, max_memory=1000)

    def __init__(self, data_root: str, pipeline: Sequence = (),
                 test_pipeline: Optional[Sequence] = None, cache_dir: Optional[str] = None,
                 batch_size: int = 10, test_set: str = 'val'):
        if not 1 <= int(batch_size) <= self.rules['max_batch_size']:
            raise ValueError(f'SSLAD Track 3A allows incoming batches of at most '
                             f'{self.rules["max_batch_size"]} samples; got batch_size='
                             f'{batch_size}. Set scenario.batch_size to 10 or less.')
        if test_set not in ('val', 'test'):
            raise ValueError(f"SSLAD3A: test_set must be 'val' or 'test', got {test_set!r}.")
        self.batch_size, self.boundaries, self.shuffle = int(batch_size), 'given', False
        test_pipeline = list(pipeline if test_pipeline is None else test_pipeline)
        common = dict(data_root=data_root, cache_dir=cache_dir)
        val = SODA10M(split='val', pipeline=list(pipeline), **common)
        self.train_stream = []
        for k, (date, period) in enumerate(TASKS):
            idx = [i for i, d in enumerate(val.data_list)
                   if d['date'] == date and d['period'] == period]
            order = chronological_order([val.data_list[i] for i in idx])
            if not idx:
                raise ValueError(f'SSLAD Track 3A task {k} ({date} {period}) has no objects '
                                 f'in "{val.ann_file_path}": is data_root SODA10M\'s '
                                 'SSLAD-2D/labeled with the timestamped annotations?')
            ordered = [idx[o] for o in order]
            labels = sorted({val.data_list[i]['gt_label'] for i in ordered})
            self.train_stream.append(Experience(
                index=k, dataset=subset(val, ordered), classes=tuple(labels),
                name=f'{date}-{period}', meta=dict(date=date, period=period)))
        if test_set == 'test':
            self.test_stream = [
                Experience(index=k, dataset=SSLADTestPickle(path), classes=tuple(range(1, 7)),
                           name=osp.basename(path), meta=dict(file=path))
                for k, path in enumerate(test_files(osp.join(data_root, 'test_track3A')))]
            return
        val_test = SODA10M(split='val', pipeline=test_pipeline, **common)
        train_test = SODA10M(split='train', pipeline=test_pipeline, **common)
        v1 = [i for i, d in enumerate(val_test.data_list) if in_v1(d)]
        v2 = [i for i, d in enumerate(train_test.data_list) if in_v2(d)]
        pooled = ConcatDataset([subset(val_test, v1), subset(train_test, v2)])
        self.test_stream = [Experience(index=0, dataset=pooled, classes=tuple(range(1, 7)),
                                       name='V1+V2', meta=dict(v1=len(v1), v2=len(v2)))]

    @property
    def num_classes(self) -> int:
        """The 7 logits of the challenge (label ids 1..6; 0 is never a label)."""
        return 7
