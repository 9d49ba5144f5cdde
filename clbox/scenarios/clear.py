"""CLEAR-10 / CLEAR-100: domain-incremental learning over a decade of Internet images.

Lin et al., "The CLEAR Benchmark: Continual LEArning on Real-World Imagery", NeurIPS 2021
Datasets and Benchmarks track (arXiv:2201.06289). Each experience is one time bucket (one
year of YFCC100M uploads, 2005-2014 in CLEAR-10's train split); every bucket holds the same
classes (CLEAR-10: 10 classes plus BACKGROUND, 11 in all).

Two evaluation protocols (paper Sec. 5):

* ``'streaming'``: train on bucket ``i``; the test stream holds every bucket and the metric of
  interest is *next-domain* accuracy, ``R[i][i+1]``: the model is tested on the (near) future.
  With the public train/test release, experience ``i`` trains on ``train/<b_i>`` and test
  experience ``j`` is ``test/<b_j>``; test buckets without a training counterpart (the
  release's bucket ``0``) are kept aside in :attr:`CLEAR.extra_test_buckets`. A root without
  split folders tests each bucket on all its images.
* ``'iid'``: a seeded 7:3 train:test split within each bucket (stratified by class), of all
  labeled images of the bucket (train and test folders pooled). Split lists
  ``<split_dir>/<bucket>/{train,test}.txt`` (``<path> <label>`` lines) replace the random
  split; ``split_dir`` defaults to the NeurIPS'21 archive's
  ``training_folder/testset_ratio_0.3/split_<seed>`` when it exists, and
  ``tools/dataset_converters/clear_fewshot.py`` writes such lists.

``feature_type`` swaps images for features (CLEAR's linear-probe protocol). Two sources
(``feature_source``):

* ``'release'``: the public release's own features,
  ``<dataset_root>/<split>/features/<feature_type>/features.json`` mapping
  ``{bucket: {class name: .pth path relative to <dataset_root>/<split>}}``; each ``.pth`` is
  a dict ``{image id: 1-D tensor}`` (Avalanche 0.6,
  ``avalanche/benchmarks/datasets/clear/clear.py:502-525``, ``_CLEARFeature._load_metadata_new``).
  Files are loaded with ``torch.load(weights_only=True)``; labels come from the class the
  file is listed under, image ids are matched to the records' metadata ``ID`` (or file stem).
  Avalanche starts its ``tensors``/``targets`` lists outside the bucket loop
  (``clear.py:506-507`` before ``for bucket, data in metadata.items()`` at ``:508``), so
  its bucket ``i`` holds buckets ``1..i``; here every experience holds exactly its bucket.
  Both protocols work: each record's feature is read from its own split and bucket.
* ``'extracted'``: features pre-extracted by ``tools/extract_features.py``, read from
  ``<feature_root>/<feature_type>``.

The default (``None``) uses the release's features when
``<dataset_root>/train/features/<feature_type>/features.json`` exists, else the extracted ones.

Unlike Avalanche 0.6's ``CLEAR`` benchmark, every experience holds exactly its bucket's images,
``iid`` works on the public layout, nothing is downloaded and the root is never written to.
"""
import json
import logging
import os.path as osp
import zlib
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from clbox.registry import DATASETS, SCENARIOS
from .base import BaseScenario, Experience
from .clear_layout import CLEARRecord, read_clear, read_filelist
from .features import PrecomputedFeatures

PROTOCOLS = ('streaming', 'iid')
FEATURE_SOURCES = ('release', 'extracted')
#: The release's feature index, relative to ``<dataset_root>/<split>/features/<type>``.
RELEASE_FEATURES_JSON = 'features.json'
#: Class counts of the public releases (a mismatch is reported, not fatal).
KNOWN_NUM_CLASSES = dict(clear10=11, clear100=100)


@DATASETS.register_module()
class CLEARImages(BaseDataset):
    """Images of CLEAR records as an mm dataset (``img_path`` + ``gt_label`` per sample).

    Args:
        root (str): The dataset root the record paths are relative to.
        records (list[CLEARRecord]): The images, in order.
        classes (Sequence[str]): Class names.
        pipeline (list): mm transforms, usually starting with ``LoadImageFromFile``.
            Defaults to [].
    """

    def __init__(self, root: str, records: Sequence[CLEARRecord], classes: Sequence[str],
                 pipeline: Sequence = (), **kwargs):
        self.root, self._records = root, list(records)
        kwargs.setdefault('serialize_data', False)
        super().__init__(metainfo=dict(classes=tuple(classes)), pipeline=list(pipeline),
                         **kwargs)

    def load_data_list(self) -> List[dict]:
        return [dict(img_path=osp.join(self.root, r.path), gt_label=int(r.label),
                     bucket=r.bucket) for r in self._records]

    def get_gt_labels(self) -> np.ndarray:
        """Labels of every sample, in order."""
        return np.array([d['gt_label'] for d in self.data_list], dtype=np.int64)

    def prepare_data(self, idx: int):
        try:
            return super().prepare_data(idx)
        except (AssertionError, OSError, ValueError) as e:
            path = self.get_data_info(idx)['img_path']
            raise OSError(f'CLEAR: cannot read image "{path}" ({e}). The file is corrupt or '
                          'truncated: re-extract it from the CLEAR archive, or delete it and '
                          'its metadata entry.') from e


def release_features_json(dataset_root: str, split: str, feature_type: str) -> str:
    """Path of the release's feature index of ``split`` (may not exist)."""
    return osp.join(dataset_root, split, 'features', feature_type, RELEASE_FEATURES_JSON)


class ReleaseFeatureReader:
    """Reads the public release's own features one (split, bucket, class) file at a time.

    The layout is Avalanche 0.6's ``_CLEARFeature._load_metadata_new``
    (``avalanche/benchmarks/datasets/clear/clear.py:502-516``): ``features.json`` maps
    ``{bucket: {class name: path}}``, the path relative to ``<dataset_root>/<split>``, and
    each file is a dict ``{image id: tensor}``. Unlike Avalanche (whose lists start outside
    the bucket loop, ``clear.py:506-508``), a lookup returns only the given bucket's file.

    Args:
        dataset_root (str): The dataset root.
        feature_type (str): Feature set name (``'moco_b0'`` in the public releases).
    """

    def __init__(self, dataset_root: str, feature_type: str):
        self.root, self.feature_type = dataset_root, feature_type
        self._index: Dict[str, dict] = {}
        self._files: Dict[str, Dict[str, np.ndarray]] = {}
        self.dim: Optional[int] = None

    def index(self, split: str) -> dict:
        """The validated ``features.json`` of ``split``."""
        if split not in self._index:
            path = release_features_json(self.root, split, self.feature_type)
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'CLEAR: "{path}" is missing; feature_source=\'release\' reads the '
                    f'release\'s {split} features from there. Extract the release\'s '
                    f'features archive into "{osp.join(self.root, split)}", or set '
                    "feature_source='extracted' to use tools/extract_features.py output.")
            with open(path) as f:
                try:
                    index = json.load(f)
                except json.JSONDecodeError as e:
                    raise ValueError(f'CLEAR: "{path}" is not valid json ({e}).') from e
            if not isinstance(index, dict) or not all(
                    isinstance(v, dict) and all(isinstance(x, str) for x in v.values())
                    for v in index.values()):
                raise ValueError(f'CLEAR: "{path}" must map {{bucket: {{class name: .pth '
                                 'path relative to the split folder}}, as the public '
                                 'release does.')
            self._index[split] = {str(k): v for k, v in index.items()}
        return self._index[split]

    def file_of(self, split: str, bucket: str, class_name: str) -> str:
        """The ``.pth`` file of one split, bucket and class."""
        index = self.index(split)
        json_path = release_features_json(self.root, split, self.feature_type)
        if bucket not in index:
            raise KeyError(f'CLEAR: bucket {bucket!r} is not in "{json_path}" (it has '
                           f'{sorted(index)}); the features do not match the images.')
        if class_name not in index[bucket]:
            raise KeyError(f'CLEAR: class {class_name!r} of bucket {bucket!r} is not in '
                           f'"{json_path}"; its classes must be those of class_names.txt.')
        return osp.join(self.root, split, index[bucket][class_name])

    def load(self, path: str) -> Dict[str, np.ndarray]:
        """``{image id: (D,) float32}`` of one ``.pth`` file, loaded weights-only."""
        if path in self._files:
            return self._files[path]
        if not osp.isfile(path):
            raise FileNotFoundError(f'CLEAR: feature file "{path}" listed in features.json '
                                    'is missing; re-extract the release\'s features.')
        try:
            data = torch.load(path, map_location='cpu', weights_only=True)
        except Exception as e:  # pickles of arbitrary objects are refused here
            raise ValueError(f'CLEAR: "{path}" is not a weights-only dict of image id -> '
                             f'tensor ({type(e).__name__}: {e}). Re-save it as '
                             '{id: tensor} with torch.save.') from e
        if not isinstance(data, dict) or not all(
                isinstance(t, torch.Tensor) for t in data.values()):
            raise ValueError(f'CLEAR: "{path}" must hold a dict of image id -> tensor, got '
                             f'{type(data).__name__}.')
        out = {}
        for key, tensor in data.items():
            vec = tensor.detach().float().reshape(-1).numpy()
            if self.dim is None:
                self.dim = len(vec)
            if len(vec) != self.dim:
                raise ValueError(f'CLEAR: feature {key!r} of "{path}" has {len(vec)} values, '
                                 f'the others {self.dim}; all features must share one size.')
            out[osp.splitext(osp.basename(str(key)))[0]] = vec
        self._files[path] = out
        return out

    def feature(self, record: CLEARRecord, class_name: str) -> np.ndarray:
        """The feature of one record, from its own split, bucket and class file."""
        path = self.file_of(record.split, record.bucket, class_name)
        feats = self.load(path)
        key = str(record.meta.get('ID', osp.splitext(osp.basename(record.path))[0]))
        if key not in feats:
            raise KeyError(f'CLEAR: image {key!r} ("{record.path}") has no feature in "{path}"'
                           '; the features archive does not match the images.')
        return feats[key]


@DATASETS.register_module()
class CLEARReleaseFeatures(BaseDataset):
    """The release's own features of CLEAR records (``feat``, ``gt_label``, ``img_path``,
    ``bucket`` per sample); the default pipeline packs ``feat``.

    Args:
        reader (ReleaseFeatureReader): Where the features come from.
        records (list[CLEARRecord]): The images, in order.
        classes (Sequence[str]): Class names.
        pipeline (list, optional): mm transforms. Defaults to None (pack ``feat``).
    """

    def __init__(self, reader: ReleaseFeatureReader, records: Sequence[CLEARRecord],
                 classes: Sequence[str], pipeline: Optional[Sequence] = None, **kwargs):
        self.reader, self._records, self._classes = reader, list(records), list(classes)
        if pipeline is None:
            pipeline = [dict(type='PackInputs', input_key='feat')]
        kwargs.setdefault('serialize_data', False)
        super().__init__(metainfo=dict(classes=tuple(classes)), pipeline=list(pipeline),
                         **kwargs)

    def load_data_list(self) -> List[dict]:
        return [dict(feat=self.reader.feature(r, self._classes[r.label]),
                     gt_label=int(r.label), img_path=osp.join(self.reader.root, r.path),
                     bucket=r.bucket) for r in self._records]

    def get_gt_labels(self) -> np.ndarray:
        """Labels of every sample, in order."""
        return np.array([d['gt_label'] for d in self.data_list], dtype=np.int64)


def draw_shots(train: Sequence[CLEARRecord], shots: int, seed: int, bucket: str
               ) -> Tuple[List[CLEARRecord], Dict[int, int]]:
    """``shots`` seeded training images per class of one bucket (all of a class that has
    fewer), the k-shot CLEAR rule of ``tools/dataset_converters/clear_fewshot.py``.

    Returns:
        tuple: The chosen records (in their original order within each class) and
        ``{label: count}`` of the classes that had fewer than ``shots`` images.
    """
    rng = np.random.RandomState([seed, zlib.crc32(f'fewshot-{bucket}'.encode())])
    chosen, short = [], {}
    for label in sorted({r.label for r in train}):
        members = [r for r in train if r.label == label]
        if len(members) < shots:
            short[label] = len(members)
        picks = rng.permutation(len(members))[:shots]
        chosen += [members[i] for i in sorted(picks)]
    return chosen, short


def iid_split(records: Sequence[CLEARRecord], test_ratio: float, seed: int,
              bucket: str) -> Tuple[List[CLEARRecord], List[CLEARRecord]]:
    """A seeded train:test split of one bucket, stratified by class.

    The generator is seeded with ``seed`` and the bucket name, so each bucket's split is
    fixed whatever the other buckets are.

    Args:
        records (list[CLEARRecord]): The bucket's images.
        test_ratio (float): Fraction of each class held out (0.3 in the paper).
        seed (int): Split seed.
        bucket (str): Bucket name.

    Returns:
        tuple: (train records, test records), each in path order.
    """
    if not 0.0 < test_ratio < 1.0:
        raise ValueError(f'test_ratio must be in (0, 1), got {test_ratio}.')
    rng = np.random.RandomState([int(seed), zlib.crc32(str(bucket).encode())])
    records = sorted(records, key=lambda r: r.path)
    labels = np.array([r.label for r in records])
    test = np.zeros(len(records), dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        n_test = int(round(len(members) * test_ratio))
        test[rng.permutation(members)[:n_test]] = True
    return ([r for r, t in zip(records, test) if not t],
            [r for r, t in zip(records, test) if t])


def _dedupe(records: Sequence[CLEARRecord]) -> List[CLEARRecord]:
    seen, out = set(), []
    for r in records:
        if r.path not in seen:
            seen.add(r.path)
            out.append(r)
    return out


@SCENARIOS.register_module()
class CLEAR(BaseScenario):
    """The CLEAR benchmark read natively from its public layout (see module docstring).

    Args:
        dataset_root (str): Folder of the extracted CLEAR release (read only).
        data_name (str): ``'clear10'`` or ``'clear100'``. Defaults to 'clear10'.
        evaluation_protocol (str): ``'streaming'`` or ``'iid'``. Defaults to 'streaming'.
        seed (int): Seed of the ``iid`` split. Defaults to 0.
        test_ratio (float): Held-out fraction of the ``iid`` split. Defaults to 0.3
            (paper Sec. 5).
        split_dir (str, optional): Folder of ``<bucket>/{train,test}.txt`` split lists for
            ``iid``. Defaults to None.
        shot (int, optional): k-shot ``iid`` (the CLEAR demo's ``shot=5``): ``shot``
            seeded training images per class and bucket, drawn in memory from the iid
            training part (:func:`draw_shots`, the same draw as
            ``tools/dataset_converters/clear_fewshot.py``); the test part stays whole.
            Defaults to None (all images).
        train_pipeline (list): mm transforms of the training images. Defaults to [].
        test_pipeline (list): mm transforms of the test images. Defaults to [].
        feature_type (str, optional): Name of a pre-extracted feature set; None uses the
            images. Defaults to None.
        feature_root (str, optional): Folder holding one sub-folder per feature set.
            Defaults to ``data/clear_features/<data_name>``.
        feature_source (str, optional): ``'release'`` (the release's own
            ``<split>/features/<feature_type>/features.json``) or ``'extracted'``
            (``<feature_root>/<feature_type>``). Defaults to None: the release's when its
            train ``features.json`` exists, else the extracted ones.
        feature_pipeline (list, optional): mm transforms of feature samples (the image
            pipelines are not used with features). Defaults to None (pack ``feat``).
        buckets (Sequence[str], optional): Training buckets to use, in order. Defaults to
            all of them.
        verify_files (bool): Check that every image exists when loading. Defaults to True.
    """

    def __init__(self, dataset_root: str, data_name: str = 'clear10',
                 evaluation_protocol: str = 'streaming', seed: int = 0,
                 test_ratio: float = 0.3, split_dir: Optional[str] = None,
                 train_pipeline: Sequence = (), test_pipeline: Sequence = (),
                 feature_type: Optional[str] = None, feature_root: Optional[str] = None,
                 feature_pipeline: Optional[Sequence] = None,
                 buckets: Optional[Sequence] = None, verify_files: bool = True,
                 shot: Optional[int] = None, feature_source: Optional[str] = None):
        if data_name not in KNOWN_NUM_CLASSES:
            raise ValueError(f"data_name must be one of {sorted(KNOWN_NUM_CLASSES)}, got "
                             f'{data_name!r}.')
        if evaluation_protocol not in PROTOCOLS:
            raise ValueError(f'evaluation_protocol must be one of {PROTOCOLS}, got '
                             f'{evaluation_protocol!r}.')
        if shot is not None and (evaluation_protocol != 'iid' or int(shot) < 1):
            raise ValueError(f"CLEAR: shot={shot!r} needs evaluation_protocol='iid' and a "
                             'positive number of images per class and bucket (the k-shot '
                             'protocol of the CLEAR demo).')
        self.shot = None if shot is None else int(shot)
        self.data_name, self.protocol, self.seed = data_name, evaluation_protocol, seed
        self.feature_pipeline = feature_pipeline
        self.index = read_clear(dataset_root, verify_files=verify_files)
        self.class_names = list(self.index.class_names)
        if len(self.class_names) != KNOWN_NUM_CLASSES[data_name]:
            print_log(f'CLEAR: {dataset_root} has {len(self.class_names)} classes; the public '
                      f'{data_name} has {KNOWN_NUM_CLASSES[data_name]}. Set the head\'s '
                      f'num_classes to {len(self.class_names)}.', 'current', logging.WARNING)
        train_pool = self.index.pools.get('train', self.index.pools.get(''))
        order = [str(b) for b in buckets] if buckets is not None \
            else self.index.buckets('train' if 'train' in self.index.pools else '')
        unknown = [b for b in order if b not in train_pool]
        if unknown:
            raise ValueError(f'CLEAR: bucket(s) {unknown} not in the training data; it has '
                             f'{list(train_pool)}.')
        self.buckets = order
        if evaluation_protocol == 'streaming':
            pairs = self._streaming(train_pool, order)
        else:
            pairs = self._iid(order, split_dir, test_ratio)
        self.feature_source = self._feature_source(feature_source, feature_type)
        self._build_streams(pairs, train_pipeline, test_pipeline, feature_type,
                            feature_root or osp.join('data', 'clear_features', data_name))

    def _feature_source(self, source: Optional[str], feature_type: Optional[str]
                        ) -> Optional[str]:
        if source is not None and source not in FEATURE_SOURCES:
            raise ValueError(f'CLEAR: feature_source must be one of {FEATURE_SOURCES} or '
                             f'None, got {source!r}.')
        if feature_type is None:
            if source is not None:
                raise ValueError(f'CLEAR: feature_source={source!r} needs a feature_type '
                                 "(e.g. 'moco_b0', the release's features).")
            return None
        if source is None:
            source = 'release' if osp.isfile(release_features_json(
                self.index.root, 'train', feature_type)) else 'extracted'
        if source == 'release' and self.index.source != 'metadata':
            raise ValueError(f'CLEAR: feature_source=\'release\' needs the public train/test '
                             f'layout; "{self.index.root}" is a {self.index.source} root. '
                             "Use feature_source='extracted'.")
        return source

    @property
    def num_classes(self) -> int:
        """Number of classes in ``class_names.txt`` (11 for CLEAR-10)."""
        return len(self.class_names)

    def _streaming(self, train_pool, order) -> List[Tuple[list, list]]:
        test_pool = self.index.pools.get('test', train_pool)
        missing = [b for b in order if b not in test_pool]
        if missing:
            raise ValueError(f'CLEAR: training bucket(s) {missing} have no test images in '
                             f'"{self.index.root}"; the test split is incomplete.')
        self.extra_test_buckets = [b for b in test_pool if b not in order]
        if self.extra_test_buckets:
            print_log(f'CLEAR: test bucket(s) {self.extra_test_buckets} have no training '
                      'counterpart and are not part of the test stream.', 'current')
        return [(train_pool[b], test_pool[b]) for b in order]

    def _iid(self, order, split_dir, test_ratio) -> List[Tuple[list, list]]:
        self.extra_test_buckets = []
        default_dir = osp.join(self.index.root, 'training_folder', 'testset_ratio_0.3',
                               f'split_{self.seed}')
        if split_dir is None and osp.isdir(default_dir):
            split_dir = default_dir
        self.split_dir = split_dir
        pairs = []
        for b in order:
            if split_dir is not None:
                pairs.append(tuple(self._from_list(split_dir, b, s) for s in ('train', 'test')))
                continue
            pooled = _dedupe(r for pool in self.index.pools.values() for r in pool.get(b, []))
            pairs.append(iid_split(pooled, test_ratio, self.seed, b))
        if self.shot is not None:  # k-shot lists drawn here, in memory: nothing is written
            pairs = [(draw_shots(train, self.shot, self.seed, b)[0], test)
                     for b, (train, test) in zip(order, pairs)]
        return pairs

    def _from_list(self, split_dir: str, bucket: str, split: str) -> List[CLEARRecord]:
        path = osp.join(split_dir, bucket, f'{split}.txt')
        if not osp.isfile(path):
            raise FileNotFoundError(f'CLEAR iid: split list "{path}" is missing; split_dir '
                                    f'"{split_dir}" must hold <bucket>/train.txt and '
                                    '<bucket>/test.txt for every training bucket.')
        records = read_filelist(path, bucket, split)
        bad = [r.path for r in records if not osp.isfile(osp.join(self.index.root, r.path))]
        if bad:
            raise FileNotFoundError(f'CLEAR iid: {len(bad)} image(s) of "{path}" are not in '
                                    f'dataset_root "{self.index.root}", e.g. {bad[:2]}.')
        return records

    def _dataset(self, records, pipeline, features: Optional[str]):
        if features is None:
            return CLEARImages(self.index.root, records, self.class_names, pipeline)
        if self.feature_source == 'release':
            return CLEARReleaseFeatures(self._release_reader, records, self.class_names,
                                        self.feature_pipeline)
        return PrecomputedFeatures(features, paths=[r.path for r in records],
                                   pipeline=self.feature_pipeline)

    def _build_streams(self, pairs, train_pipeline, test_pipeline, feature_type,
                       feature_root) -> None:
        features = None if feature_type is None else osp.join(feature_root, feature_type)
        self.feature_dir = features
        if self.feature_source == 'release':
            self._release_reader = ReleaseFeatureReader(self.index.root, feature_type)
            self.feature_dir = osp.join(self.index.root, '<split>', 'features', feature_type)
        classes = tuple(range(self.num_classes))
        self.train_stream, self.test_stream = [], []
        for i, (b, (train, test)) in enumerate(zip(self.buckets, pairs)):
            if not train:
                raise ValueError(f'CLEAR: bucket {b} has no training image.')
            meta = dict(bucket=b, protocol=self.protocol)
            self.train_stream.append(Experience(
                i, self._dataset(train, train_pipeline, features), classes,
                name=f'train/bucket-{b}', meta=meta))
            self.test_stream.append(Experience(
                i, self._dataset(test, test_pipeline, features), classes,
                name=f'test/bucket-{b}', meta=dict(meta)))

    def bucket_records(self) -> Dict[str, Tuple[List[str], List[str]]]:
        """``{bucket: (train image paths, test image paths)}``, for inspection and tests."""
        out = {}
        for b, tr, te in zip(self.buckets, self.train_stream, self.test_stream):
            out[b] = tuple([d['img_path'] for d in e.dataset.data_list] for e in (tr, te))
        return out
