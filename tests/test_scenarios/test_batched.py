"""Batched fetch of in-memory datasets: the same batches as the per-sample path, and the
same training."""
import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate, pseudo_collate
from torch.utils.data import ConcatDataset, Subset

from clbox.engine.utils import build_loader, loader_workers
from clbox.scenarios import ArrayDataset
from clbox.scenarios.base import subset, with_pipeline
from clbox.scenarios.batched import LabelBatch, fetch_batch
from helpers import build_runner, results, tiny_cfg

PACK = [dict(type='PackInputs')]


def _dataset(n=40, shape=(6, 5), channels=1, seed=0, pipeline=PACK):
    rng = np.random.RandomState(seed)
    images = rng.randint(0, 255, (n, *shape, channels), dtype=np.uint8)
    return ArrayDataset(images, rng.randint(0, 7, n), classes=[str(i) for i in range(7)],
                        pipeline=pipeline)


def _same(batch, reference):
    assert isinstance(batch['data_samples'], LabelBatch)
    assert torch.equal(batch['inputs'], reference['inputs'])
    assert batch['inputs'].stride() == reference['inputs'].stride()
    labels = torch.cat([s.gt_label for s in reference['data_samples']])
    assert torch.equal(batch['data_samples'].gt_label, labels)
    for got, want in zip(batch['data_samples'], reference['data_samples']):
        assert torch.equal(got.gt_label, want.gt_label)
        assert got.metainfo == want.metainfo


@pytest.mark.parametrize('channels', [1, 3])
def test_fetch_batch_equals_the_per_sample_path(channels):
    dataset = _dataset(channels=channels)
    part = subset(dataset, [3, 9, 10, 20, 33, 39])
    for data in (dataset, part):
        idx = [5, 0, 2, 4, 1] if data is part else [7, 3, 3, 39, 0]
        _same(fetch_batch(data, idx), default_collate([data[i] for i in idx]))


def test_fetch_batch_through_torch_subset_and_concat_keeps_the_order():
    a, b = _dataset(seed=1), _dataset(n=12, seed=2)
    concat = ConcatDataset([a, Subset(b, [11, 4, 6])])
    idx = [41, 0, 40, 39, 42, 5]
    _same(fetch_batch(concat, idx), default_collate([concat[i] for i in idx]))


def test_other_pipelines_keep_the_per_sample_path():
    flip = [dict(type='RandomFlip', prob=1.0, direction='horizontal'), *PACK]
    dataset = _dataset(pipeline=flip)
    assert fetch_batch(dataset, [0, 1]) is None
    loader = build_loader(dict(batch_size=4, collate_fn=dict(type='default_collate')),
                          dataset, seed=0, shuffle=False)
    batch = next(iter(loader))
    assert isinstance(batch['data_samples'], list)
    assert torch.equal(batch['inputs'][0], torch.from_numpy(
        dataset._images.array[0][:, ::-1].copy()).permute(2, 0, 1))


@pytest.mark.parametrize('collate', ['default_collate', 'pseudo_collate'])
def test_loader_yields_the_same_batches_with_and_without_batch_fetch(collate):
    dataset = _dataset(n=37)
    cfg = dict(batch_size=8, collate_fn=dict(type=collate))
    fast = list(build_loader(cfg, dataset, seed=3))
    slow = list(build_loader(dict(cfg, batch_fetch=False), dataset, seed=3))
    assert len(fast) == len(slow) == 5
    for f, s in zip(fast, slow):
        inputs = torch.stack(s['inputs']) if collate == 'pseudo_collate' else s['inputs']
        _same(f, dict(inputs=inputs, data_samples=s['data_samples']))


def test_loader_with_a_worker_process_fetches_batches():
    dataset = _dataset(n=20)
    loader = build_loader(dict(batch_size=8, num_workers=1,
                               collate_fn=dict(type='default_collate')),
                          dataset, seed=0, shuffle=False, persistent=False)
    batches = list(loader)
    assert [len(b['data_samples']) for b in batches] == [8, 8, 4]
    _same(batches[2], default_collate([dataset[i] for i in range(16, 20)]))


def test_label_batch_behaves_as_a_list_of_data_samples():
    samples = LabelBatch(torch.tensor([3, 1, 4, 1]), np.array([10, 11, 12, 13]),
                         dict(img_shape=(2, 2)), dict(img_path=['a', 'b', 'c', 'd']))
    assert len(samples) == 4 and samples[-1].gt_label.tolist() == [1]
    assert samples[2].metainfo == dict(img_shape=(2, 2), img_path='c', sample_idx=12)
    head = samples[1:3]
    assert isinstance(head, LabelBatch) and head.gt_label.tolist() == [1, 4]
    assert [s.img_path for s in samples[::2]] == ['a', 'c']
    assert [int(s.gt_label) for s in samples] == [3, 1, 4, 1]
    assert samples.to('cpu') is samples
    with pytest.raises(IndexError):
        samples[4]


def test_num_workers_auto_and_bad_values():
    assert loader_workers('auto', batched=True) == 0
    assert 0 <= loader_workers('auto', batched=False) <= 4
    assert loader_workers(3, batched=True) == 3
    for bad in (-1, 1.5, 'four', True):
        with pytest.raises(ValueError, match='num_workers'):
            loader_workers(bad, batched=False)


def test_with_pipeline_shares_the_samples():
    dataset = _dataset()
    view = with_pipeline(subset(dataset, [1, 2, 3]), [dict(type='RandomFlip', prob=1.0),
                                                      *PACK])
    assert len(view) == 3 and fetch_batch(view, [0]) is None
    assert view._images is dataset._images
    with pytest.raises(TypeError, match='observe_pipeline'):
        with_pipeline(torch.utils.data.TensorDataset(torch.zeros(2)), PACK)


@pytest.mark.parametrize('method', [None, dict(type='ER', buffer=dict(
    type='ClassBalancedBuffer', size=60))])
def test_training_is_bit_identical_with_and_without_batch_fetch(tmp_path, method):
    """The accuracy matrix of a run does not change when batches are fetched whole."""
    matrices = []
    for fetch in (True, False):
        overrides = {'train_dataloader.batch_fetch': fetch,
                     'val_dataloader.batch_fetch': fetch}
        cfg = tiny_cfg(tmp_path / str(fetch), method=method, num_experiences=2,
                       **overrides)
        build_runner(cfg).train()
        matrices.append(results(tmp_path / str(fetch))['accuracy_matrix'])
    assert matrices[0] == matrices[1]


def test_precomputed_features_fetch_the_same_batches(tmp_path):
    from clbox.scenarios.features import FeatureWriter, PrecomputedFeatures
    records = [dict(path=f'img/{i}.png', label=i % 3, bucket=str(i % 2), split='train')
               for i in range(10)]
    writer = FeatureWriter(str(tmp_path / 'feats'), records, dim=5)
    writer.write(np.arange(10), np.random.RandomState(0).randn(10, 5).astype(np.float32))
    writer.commit()
    writer.close()
    dataset = PrecomputedFeatures(str(tmp_path / 'feats'),
                                  paths=[f'img/{i}.png' for i in (9, 2, 4, 7)])
    idx = [3, 0, 2]
    _same(fetch_batch(dataset, idx), default_collate([dataset[i] for i in idx]))
