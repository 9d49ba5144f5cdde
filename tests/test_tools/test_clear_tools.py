"""CLEAR tools: feature extraction (and the feature path), few-shot and metadata converters."""
import errno
import importlib.util
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from clbox.registry import MODELS
from clbox.scenarios.clear import CLEAR
from clbox.scenarios.features import PrecomputedFeatures
from fixtures.clear import make_clear
from helpers import ROOT


def _tool(relpath):
    path = osp.join(ROOT, 'tools', relpath)
    spec = importlib.util.spec_from_file_location(osp.splitext(osp.basename(path))[0], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def mini(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('clear10'))
    make_clear(root, num_buckets=2, train_per_class=2, test_per_class=2, size=16)
    return root


def tiny_cfg(root):
    """configs/clear/resnet50.py on the miniature: a narrow ResNet-18 on 16-pixel images."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs/clear/resnet50.py'))
    cfg.model.model.backbone.update(depth=18, stem_channels=8, base_channels=8)
    cfg.model.model.head.in_channels = 64
    cfg.scenario.dataset_root = root
    for pipeline in (cfg.scenario.train_pipeline, cfg.scenario.test_pipeline):
        pipeline[1].scale = 16
        pipeline[2].crop_size = 16
    return cfg


def _weights(cfg, path):
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    torch.save(dict(state_dict=model.state_dict()), path)
    return model


@torch.no_grad()
def _scores(algorithm, experience, batch_size=7):
    dataset = experience.dataset
    out = []
    for start in range(0, len(dataset), batch_size):
        batch = pseudo_collate([dataset[i] for i in range(start, min(len(dataset),
                                                                     start + batch_size))])
        out.append(algorithm.predict_scores(batch)[0])
    return torch.cat(out)


def test_feature_path_predicts_as_backbone_plus_head_on_images(mini, tmp_path):
    extract = _tool('extract_features.py')
    cfg = tiny_cfg(mini)
    image_model = _weights(cfg, str(tmp_path / 'weights.pth')).eval()
    out = tmp_path / 'features' / 'tiny'
    writer = extract.extract(cfg, str(out), checkpoint=str(tmp_path / 'weights.pth'),
                             batch_size=16, progress=False)
    assert writer.count == 11 * (2 * 2 + 2 * 3) and writer.dim == 64  # test/ has bucket 0
    feature_model = MODELS.build(dict(type='Naive', model=dict(
        type='ImageClassifier', data_preprocessor=dict(type='ClsDataPreprocessor'),
        backbone=dict(type='FeatureInput', dim=64),
        head=dict(type='LinearClsHead', num_classes=11, in_channels=64)))).eval()
    feature_model.model.head.load_state_dict(image_model.model.head.state_dict())
    images = CLEAR(mini, test_pipeline=cfg.scenario.test_pipeline)
    features = CLEAR(mini, feature_type='tiny', feature_root=str(tmp_path / 'features'))
    assert isinstance(features.test_stream[0].dataset, PrecomputedFeatures)
    for img_exp, feat_exp in zip(images.test_stream, features.test_stream):
        assert [osp.relpath(d['img_path'], mini) for d in img_exp.dataset.data_list] == \
            [d['img_path'] for d in feat_exp.dataset.data_list]
        a, b = _scores(image_model, img_exp), _scores(feature_model, feat_exp)
        assert torch.equal(a.argmax(1), b.argmax(1))
        assert torch.allclose(a, b, atol=2e-3 * float(a.abs().max()) + 1e-4)


def test_extraction_resumes_where_it_stopped(mini, tmp_path, monkeypatch):
    extract = _tool('extract_features.py')
    cfg = tiny_cfg(mini)
    _weights(cfg, str(tmp_path / 'w.pth'))
    full = extract.extract(cfg, str(tmp_path / 'full'), str(tmp_path / 'w.pth'),
                           batch_size=8, progress=False)
    real_embed, calls = extract.embed, []

    def interrupted(model, batch):
        calls.append(len(batch['inputs']))
        if len(calls) == 3:  # probe, one batch, then the process dies
            raise KeyboardInterrupt
        return real_embed(model, batch)

    monkeypatch.setattr(extract, 'embed', interrupted)
    with pytest.raises(KeyboardInterrupt):
        extract.extract(cfg, str(tmp_path / 'part'), str(tmp_path / 'w.pth'), batch_size=8,
                        commit_every=1, progress=False)
    assert int(np.load(tmp_path / 'part' / 'done.npy').sum()) == 8
    with pytest.raises(RuntimeError, match='incomplete.*8 of 110.*resumes'):
        PrecomputedFeatures(str(tmp_path / 'part'))
    calls.clear()
    monkeypatch.setattr(extract, 'embed', lambda m, b: calls.append(1) or real_embed(m, b))
    resumed = extract.extract(cfg, str(tmp_path / 'part'), str(tmp_path / 'w.pth'),
                              batch_size=8, progress=False)
    assert len(calls) == 1 + int(np.ceil((110 - 8) / 8))  # the probe + the missing rows only
    assert resumed.done.all()
    a = np.fromfile(tmp_path / 'full' / 'features.f16', dtype=np.float16)
    b = np.fromfile(tmp_path / 'part' / 'features.f16', dtype=np.float16)
    assert np.array_equal(a, b) and full.done.all()


@pytest.mark.parametrize('where', ['posix_fallocate', 'pwrite'])
def test_full_disk_gives_a_clear_error_and_removes_the_partial_file(mini, tmp_path,
                                                                     monkeypatch, where):
    extract = _tool('extract_features.py')
    cfg = tiny_cfg(mini)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(os, where, full)
    out = tmp_path / 'features'
    with pytest.raises(OSError, match=r'disk full.*110 x 64 float16.*partial files were '
                                      r'removed') as info:
        extract.extract(cfg, str(out), batch_size=32, progress=False)
    assert info.value.errno == errno.ENOSPC
    assert os.listdir(out) == []


def test_extraction_refuses_to_write_into_the_dataset_root(mini):
    extract = _tool('extract_features.py')
    with pytest.raises(ValueError, match='inside dataset_root'):
        extract.extract(tiny_cfg(mini), osp.join(mini, 'features'), progress=False)
    with pytest.raises(FileNotFoundError, match='never downloads'):
        extract.build_extractor(tiny_cfg(mini), '/nonexistent/resnet50.pth')


def test_missing_features_say_how_to_make_them(mini, tmp_path):
    with pytest.raises(FileNotFoundError, match='no pre-extracted features.*extract_features'):
        CLEAR(mini, feature_type='moco_b0', feature_root=str(tmp_path))


def test_fewshot_lists_are_read_by_the_iid_protocol(mini, tmp_path):
    fewshot = _tool('dataset_converters/clear_fewshot.py')
    summary = fewshot.fewshot(mini, str(tmp_path / 'k1'), shots=1, seed=0)
    # 4 images per class and bucket: 1 held out (round(4 x 0.3)), 1 of the other 3 drawn
    assert summary['buckets'] == {'1': dict(train=11, test=11), '2': dict(train=11, test=11)}
    shots = CLEAR(mini, evaluation_protocol='iid', seed=0, split_dir=str(tmp_path / 'k1'))
    full = CLEAR(mini, evaluation_protocol='iid', seed=0)
    for (k_train, k_test), (f_train, f_test) in zip(shots.bucket_records().values(),
                                                    full.bucket_records().values()):
        assert k_test == f_test                 # the iid test part, untouched
        assert set(k_train) < set(f_train)      # drawn from the iid training part
    for exp in shots.train_stream:
        assert sorted(exp.dataset.get_gt_labels().tolist()) == list(range(11))
    again = fewshot.fewshot(mini, str(tmp_path / 'again'), shots=1, seed=0)
    assert again['buckets'] == summary['buckets']
    for b in ('1', '2'):
        assert (tmp_path / 'k1' / b / 'train.txt').read_text() == \
            (tmp_path / 'again' / b / 'train.txt').read_text()
    many = fewshot.fewshot(mini, str(tmp_path / 'k9'), shots=9, seed=0)
    assert many['short_classes']['1']['bus'] == 3  # 4 images, 1 held out: all 3 taken
    with pytest.raises(ValueError, match='inside the dataset root'):
        fewshot.fewshot(mini, osp.join(mini, 'fewshot'), shots=1)


def test_metadata_rebucketing_gives_a_loadable_time_ordered_dataset(mini, tmp_path):
    convert = _tool('dataset_converters/clear_by_metadata.py')
    before = sorted(os.listdir(mini))
    counts = convert.rebuild(mini, str(tmp_path / 'by_date'), 'DATE_TAKEN', num_buckets=3)
    assert sum(counts['train'].values()) == 44 and sum(counts['test'].values()) == 66
    assert sorted(os.listdir(mini)) == before
    scenario = CLEAR(str(tmp_path / 'by_date'),
                     train_pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')])
    assert scenario.buckets == ['1', '2', '3']
    assert tuple(scenario.train_stream[2].dataset[0]['inputs'].shape) == (3, 16, 16)
    spans = []
    for b in scenario.buckets:
        dates = []
        for split in ('train', 'test'):
            with open(tmp_path / 'by_date' / split / 'labeled_metadata.json') as f:
                index = json.load(f)
            for rel in index[b].values():
                with open(tmp_path / 'by_date' / split / rel) as f:
                    dates += [m['DATE_TAKEN'] for m in json.load(f).values()]
        spans.append((min(dates), max(dates)))
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(2))
    assert max(counts['train'][b] + counts['test'][b] for b in '123') - \
        min(counts['train'][b] + counts['test'][b] for b in '123') <= 1
    link = scenario.train_stream[0].dataset.data_list[0]['img_path']
    assert osp.islink(link) and osp.realpath(link).startswith(osp.realpath(mini))
    years = convert.rebuild(mini, str(tmp_path / 'years'), 'DATE_TAKEN', by_year=True,
                            copy=True)
    assert set(years['train']) <= {'2004', '2005', '2006'}
    with pytest.raises(ValueError, match='no "GPS"'):
        convert.rebuild(mini, str(tmp_path / 'gps'), 'GPS', num_buckets=2)
    with pytest.raises(ValueError, match='not empty'):
        convert.rebuild(mini, str(tmp_path / 'years'), 'DATE_TAKEN', num_buckets=2)


def test_fewshot_form_of_the_demo_draws_the_converters_lists(mini, tmp_path):
    """scenario=dict(..., evaluation_protocol='iid', shot=k, seed=0) works without files
    and gives exactly what the converter writes."""
    fewshot = _tool('dataset_converters/clear_fewshot.py')
    fewshot.fewshot(mini, str(tmp_path / 'k1'), shots=1, seed=0)
    from_files = CLEAR(mini, evaluation_protocol='iid', seed=0, split_dir=str(tmp_path / 'k1'))
    before = sorted(os.listdir(mini))
    in_memory = CLEAR(mini, evaluation_protocol='iid', seed=0, shot=1)
    assert sorted(os.listdir(mini)) == before  # nothing written into the data root
    assert in_memory.bucket_records() == from_files.bucket_records()
    for exp in in_memory.train_stream:
        assert sorted(exp.dataset.get_gt_labels().tolist()) == list(range(11))
    with pytest.raises(ValueError, match="shot=5 needs evaluation_protocol='iid'"):
        CLEAR(mini, shot=5)
