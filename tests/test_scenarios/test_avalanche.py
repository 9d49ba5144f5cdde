"""Avalanche benchmarks become mm datasets with mm pipelines."""
import torch

from clbox.registry import SCENARIOS


def test_avalanche_streams_become_mm_datasets():
    x = torch.rand(40, 1, 6, 6)
    y = torch.arange(40) % 4
    benchmark = dict(type='tensors_benchmark',
                     train_tensors=[(x[:20], y[:20]), (x[20:], y[20:])],
                     test_tensors=[(x, y)], task_labels=[0, 1])
    s = SCENARIOS.build(dict(type='AvalancheScenario', benchmark=benchmark,
                             pipeline=[dict(type='PackInputs')]))
    assert len(s.train_stream) == 2 and len(s.test_stream) == 1
    assert s.train_stream[1].task_label == 1
    item = s.train_stream[0].dataset[3]
    assert item['inputs'].dtype == torch.uint8 and item['inputs'].shape == (1, 6, 6)
    expected = (x[3].clamp(0, 1) * 255).round().to(torch.uint8)
    assert torch.equal(item['inputs'], expected)
    assert int(item['data_samples'].gt_label) == 3
    assert s.num_classes == 4
