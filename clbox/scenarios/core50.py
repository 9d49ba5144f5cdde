"""CORe50 (Lomonaco & Maltoni, "CORe50: a New Dataset and Benchmark for Continuous Object
Recognition", CoRL 2017, arXiv:1705.03550) read from its standard on-disk layout.

Layout under ``data_root`` (as distributed; nothing is downloaded or written)::

    core50_128x128/s{1..11}/o{1..50}/C_{ss}_{oo}_{fff}.png   (core50_32x32/ with mini=True)
    batches_filelists/{NI_inc,NC_inc,NIC_inc}/run{0..9}/train_batch_{XX}_filelist.txt
    NIC_v2_{79,196,391}/run{0..9}/train_batch_{XX}_filelist.txt   (batches_filelists_NICv2)
    .../run{r}/test_filelist.txt

File-list lines are ``s1/o1/C_01_01_000.png 0`` (path under the image folder, object
label). Object ``o{k}`` belongs to category ``(k - 1) // 5`` (plug adapter, mobile phone,
scissors, light bulb, can, glass, ball, marker, cup, remote control: the order of
Avalanche's ``core50_data.name2cat``). The test set is sessions 3, 7 and 10.
"""
import os.path as osp
import re
from typing import List, Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset

from clbox.registry import DATASETS, SCENARIOS
from .base import BaseScenario, Experience

#: Experiences per scenario (Lomonaco & Maltoni 2017; NICv2: Lomonaco et al. 2019).
NUM_BATCHES = dict(ni=8, nc=9, nic=79, nicv2_79=79, nicv2_196=196, nicv2_391=391)
#: File-list folders per scenario, first match wins (official zips, then common renames).
FILELIST_DIRS = dict(
    ni=('batches_filelists/NI_inc',), nc=('batches_filelists/NC_inc',),
    nic=('batches_filelists/NIC_inc',),
    **{f'nicv2_{n}': (f'NIC_v2_{n}', f'batches_filelists/NIC_v2_{n}',
                      f'batches_filelists/NICv2_{n}', f'batches_filelists_NICv2/NIC_v2_{n}')
       for n in (79, 196, 391)})
TEST_SESSIONS = (3, 7, 10)
_PATH = re.compile(r's(\d+)/o(\d+)/')
_DOWNLOAD = ('http://bias.csr.unibo.it/maltoni/download/core50/core50_128x128.zip, '
             'https://vlomonaco.github.io/core50/data/batches_filelists.zip and '
             'https://vlomonaco.github.io/core50/data/batches_filelists_NICv2.zip')


def parse_filelist(path: str) -> List[tuple]:
    """``(relative image path, label, session, object id 0-49)`` of each line."""
    rows = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            parts = line.split()
            match = _PATH.match(parts[0]) if len(parts) == 2 else None
            if match is None:
                raise ValueError(f'{path}:{lineno}: expected "sS/oO/NAME.png LABEL", got '
                                 f'{line.strip()!r}.')
            rows.append((parts[0], int(parts[1]), int(match.group(1)),
                         int(match.group(2)) - 1))
    return rows


@DATASETS.register_module()
class CORe50FileList(BaseDataset):
    """The images of one CORe50 file list, as an mm dataset (``img_path``, ``gt_label``).

    Args:
        ann_file (str): The file list.
        img_root (str): Folder the list's paths are relative to (``core50_128x128``).
        object_level (bool): 50 object labels (from the list) or 10 categories (from the
            object folder). Defaults to True.
        sessions (Sequence[int], optional): Keep only these sessions. Defaults to None.
        pipeline (list): mm transforms. Defaults to ().
        every (int): Keep every ``every``-th image of the list (after the session filter),
            starting with the first: images ``0, k, 2k, ...``, ``ceil(n / k)`` of them.
            Defaults to 1 (all).
    """

    METAINFO = dict(classes=tuple(f'o{i}' for i in range(1, 51)))

    def __init__(self, ann_file: str, img_root: str, object_level: bool = True,
                 sessions: Optional[Sequence[int]] = None, pipeline: Sequence = (),
                 every: int = 1, **kwargs):
        self.every = check_every(every, 'CORe50FileList: every')
        self.img_root = img_root
        self.object_level = object_level
        self.sessions = None if sessions is None else set(int(s) for s in sessions)
        metainfo = None if object_level else dict(
            classes=('plug_adapter', 'mobile_phone', 'scissor', 'light_bulb', 'can',
                     'glass', 'ball', 'marker', 'cup', 'remote_control'))
        kwargs.setdefault('serialize_data', False)
        super().__init__(ann_file=ann_file, metainfo=metainfo, pipeline=list(pipeline),
                         **kwargs)

    def load_data_list(self) -> List[dict]:
        data = []
        for rel, label, session, obj in parse_filelist(self.ann_file):
            if self.sessions is not None and session not in self.sessions:
                continue
            data.append(dict(img_path=osp.join(self.img_root, rel),
                             gt_label=label if self.object_level else obj // 5,
                             session=session, object=obj))
        return data[::self.every]

    def get_gt_labels(self) -> np.ndarray:
        """Labels of every sample, in order."""
        return np.array([d['gt_label'] for d in self.data_list], dtype=np.int64)


def check_every(every, key: str) -> int:
    """``every`` as an int >= 1, or a ValueError naming ``key``."""
    if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
        raise ValueError(f'{key} must be an int >= 1 (keep every k-th image; 1 keeps all, '
                         f'20 is the AR1* reference\'s test subset), got {every!r}.')
    return int(every)


def _find_dir(data_root: str, scenario: str, run: int, filelist_dir: Optional[str]) -> str:
    candidates = [filelist_dir] if filelist_dir else list(FILELIST_DIRS[scenario])
    for cand in candidates:
        path = osp.join(data_root, cand, f'run{run}')
        if osp.isdir(path):
            return path
    tried = ', '.join(osp.join(data_root, c, f'run{run}') for c in candidates)
    raise FileNotFoundError(
        f'CORe50 file lists for scenario {scenario!r} run {run} not found (tried {tried}). '
        f'clbox never downloads: get {_DOWNLOAD}, unzip them into {data_root}, or point '
        'filelist_dir at the folder holding run0..run9.')


@SCENARIOS.register_module()
class CORe50(BaseScenario):
    """The CORe50 benchmarks: NI, NC, NIC and NICv2-79/196/391, runs 0-9.

    Training experience ``i`` is ``train_batch_{i:02d}_filelist.txt`` of the run, in
    order; the test stream is one experience, the run's ``test_filelist.txt`` (sessions 3,
    7 and 10), or, when a layout has no test list, every image of those sessions. Reading
    is lazy and read-only: ``data_root`` is never written (Avalanche 0.6 writes ``*_cat``
    lists there; clbox derives categories from the object folder instead).

    Args:
        data_root (str): Folder holding ``core50_128x128`` and the file lists.
        scenario (str): ``'ni'``, ``'nc'``, ``'nic'``, ``'nicv2_79'``, ``'nicv2_196'`` or
            ``'nicv2_391'`` (dashes and upper case accepted). Defaults to 'nicv2_391'.
        run (int): Run id, 0-9 (each run is another order). Defaults to 0.
        object_level (bool): 50 objects (True) or 10 categories. Defaults to True.
        mini (bool): Use ``core50_32x32``. Defaults to False.
        train_pipeline (list): Transforms of training images. Defaults to loading and
            packing.
        test_pipeline (list): Transforms of test images. Defaults to the same.
        test_sessions (Sequence[int]): Sessions of the test set. Defaults to (3, 7, 10).
        filelist_dir (str, optional): Folder (under ``data_root``) with ``run0..run9`` when
            the lists are not where the official zips put them. Defaults to None.
        num_batches (int, optional): Only the first ``num_batches`` experiences (smoke
            tests). Defaults to None (all).
        test_every (int): Evaluate on every ``test_every``-th test image only (images
            ``0, k, 2k, ...`` of the test list: ``ceil(n / k)`` of the ``n``). The AR1*
            reference tests on every 20th image (``CORE50.get_test_set(reduced=True)``,
            vlomonaco/ar1-pytorch ``data_loader.py:155, 177-181``), which makes
            evaluation after each of 391 experiences affordable. Defaults to 1 (all).
    """

    def __init__(self, data_root: str, scenario: str = 'nicv2_391', run: int = 0,
                 object_level: bool = True, mini: bool = False,
                 train_pipeline: Sequence = (dict(type='LoadImageFromFile'),
                                             dict(type='PackInputs')),
                 test_pipeline: Optional[Sequence] = None,
                 test_sessions: Sequence[int] = TEST_SESSIONS,
                 filelist_dir: Optional[str] = None, num_batches: Optional[int] = None,
                 test_every: int = 1):
        test_every = check_every(test_every, 'CORe50: test_every (scenario.test_every)')
        key = scenario.lower().replace('-', '_').replace('nic_v2', 'nicv2')
        if key not in NUM_BATCHES:
            raise ValueError(f'unknown CORe50 scenario {scenario!r}; pick one of '
                             f'{sorted(NUM_BATCHES)}.')
        if not 0 <= int(run) <= 9:
            raise ValueError(f'CORe50 has runs 0-9, got run={run}.')
        img_root = osp.join(data_root, 'core50_32x32' if mini else 'core50_128x128')
        if not osp.isdir(img_root):
            raise FileNotFoundError(
                f'CORe50 images not found at {img_root}. clbox never downloads: get '
                f'{_DOWNLOAD} and unzip them into {data_root} (or fix data_root).')
        self.scenario, self.run, self.object_level = key, int(run), object_level
        list_dir = _find_dir(data_root, key, self.run, filelist_dir)
        total = NUM_BATCHES[key] if num_batches is None else min(num_batches,
                                                                 NUM_BATCHES[key])
        test_pipeline = list(train_pipeline if test_pipeline is None else test_pipeline)
        common = dict(img_root=img_root, object_level=object_level)
        self.train_stream = []
        for i in range(total):
            path = osp.join(list_dir, f'train_batch_{i:02d}_filelist.txt')
            if not osp.isfile(path):
                raise FileNotFoundError(f'{path} is missing: CORe50 {key} has '
                                        f'{NUM_BATCHES[key]} batches per run.')
            dataset = CORe50FileList(path, pipeline=train_pipeline, **common)
            self.train_stream.append(self._experience(i, dataset, 'train'))
        test_list = osp.join(list_dir, 'test_filelist.txt')
        if osp.isfile(test_list):
            test = CORe50FileList(test_list, sessions=test_sessions, every=test_every,
                                  pipeline=test_pipeline, **common)
        else:
            test = _SessionImages(img_root, test_sessions, object_level, test_pipeline,
                                  every=test_every)
        self.test_stream = [self._experience(0, test, 'test')]

    @property
    def num_classes(self) -> int:
        """50 objects or 10 categories, whichever subset the lists hold."""
        return 50 if self.object_level else 10

    @staticmethod
    def _experience(index: int, dataset, stream: str) -> Experience:
        labels = dataset.get_gt_labels()
        sessions = sorted({d['session'] for d in dataset.data_list})
        return Experience(index, dataset, tuple(int(c) for c in np.unique(labels)),
                          name=f'{stream}/{index}', meta=dict(sessions=sessions))


class _SessionImages(CORe50FileList):
    """Every image of some sessions, found on disk (when a layout has no test list)."""

    def __init__(self, img_root: str, sessions, object_level: bool, pipeline,
                 every: int = 1):
        self._rows = self._scan(img_root, sessions)
        super().__init__('', img_root, object_level=object_level, every=every,
                         pipeline=pipeline)

    @staticmethod
    def _scan(img_root: str, sessions) -> List[tuple]:
        import glob
        rows = []
        for s in sessions:
            for path in sorted(glob.glob(osp.join(img_root, f's{s}', 'o*', '*.png'))):
                rel = osp.relpath(path, img_root).replace(osp.sep, '/')
                obj = int(_PATH.match(rel).group(2)) - 1
                rows.append((rel, obj, int(s), obj))
        return rows

    def load_data_list(self) -> List[dict]:
        return [dict(img_path=osp.join(self.img_root, rel),
                     gt_label=label if self.object_level else obj // 5,
                     session=session, object=obj)
                for rel, label, session, obj in self._rows][::self.every]
