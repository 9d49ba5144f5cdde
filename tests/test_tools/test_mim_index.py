"""OpenMIM packaging: model-index.yml lists measured configs; clbox/.mim points at them."""
import os.path as osp
import re

import modelindex
from mmengine.config import Config

import clbox
from helpers import ROOT


def test_model_index_configs_exist_and_load():
    index = modelindex.load(osp.join(ROOT, 'model-index.yml'))
    assert len(index.models) >= 10
    collections = {c.name for c in index.collections}
    for model in index.models:
        assert model.in_collection in collections, model.name
        path = osp.join(ROOT, model.config)
        assert osp.isfile(path), model.config
        assert osp.splitext(osp.basename(path))[0] == model.name
        Config.fromfile(path)
        assert model.results and all(0 <= v <= 100 for r in model.results
                                     for v in r.metrics.values())


def test_model_index_figures_are_the_readme_figures():
    """Each accuracy in the index appears in a README table next to the config's name (so
    the index cannot drift from the measured tables)."""
    index = modelindex.load(osp.join(ROOT, 'model-index.yml'))
    readmes = {c.name: c.readme for c in index.collections}
    for model in index.models:
        lines = []
        for readme in (readmes[model.in_collection], 'configs/er/README.md'):
            with open(osp.join(ROOT, readme)) as f:  # configs/er's tables list them all
                lines += [line for line in f.read().splitlines() if model.name + '.py' in line]
        acc = model.results[0].metrics['Average Accuracy']
        assert any(re.search(rf'\b{acc:.2f}\b', line) for line in lines), model.name


def test_mim_folder_resolves_to_the_repository():
    mim = osp.join(osp.dirname(clbox.__file__), '.mim')
    assert osp.samefile(osp.join(mim, 'model-index.yml'), osp.join(ROOT, 'model-index.yml'))
    assert osp.isfile(osp.join(mim, 'configs', 'er', 'er_resnet18_1xb32-5e_digits-5exp.py'))
    assert osp.isfile(osp.join(mim, 'tools', 'train.py'))
