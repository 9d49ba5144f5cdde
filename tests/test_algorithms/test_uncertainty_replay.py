"""UncertaintyReplay (the SSLAD 2021 Track 3A 3rd-place method) against the reference's
timeline at its real thresholds (memory 1000 / sweep to 500 / 5 per update, replay 6 per
step from a 500-draw class-balanced snapshot): ``../shared/specs/sslad-3a.md`` sec. 3.2-3.3
("memory reaches 500 at iteration 100 and 1000 at iteration 199; sweeps then run at 199,
299, ...; a new replay draw whenever the memory holds exactly 500; after 84 batches, no
replay until the next"), the eval-mode quirk, the stale soft labels, and a checkpoint."""
import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope

from clbox.scenarios.batched import LabelBatch


def _algorithm(**overrides):
    from clbox.registry import MODELS
    init_default_scope('clbox')
    cfg = dict(
        type='UncertaintyReplay',
        model=dict(type='ImageClassifier',
                   backbone=dict(type='SmallConvNet', in_channels=3, channels=(8, )),
                   neck=dict(type='GlobalAveragePooling'),
                   head=dict(type='LinearHead', num_classes=7, in_channels=8, bias=False,
                             init_cfg=None, loss=dict(type='CrossEntropyLoss')),
                   data_preprocessor=dict(type='ClsDataPreprocessor', mean=[127.] * 3,
                                          std=[64.] * 3, to_rgb=False)),
        buffer=dict(type='UncertaintyMemory', size=1000, sweep_size=500, per_batch=5,
                    sweep_every=1000, views=12),
        replay_augments=[dict(type='BatchRandomFlip'),
                         dict(type='BatchRandomRotation', degrees=10),
                         dict(type='BatchColorJitter', brightness=0.5, hue=0.5)],
        soft_labels=dict(patience=5, milestones=[5, 8, 300]))
    cfg.update(overrides)
    torch.manual_seed(0)
    algorithm = MODELS.build(cfg)
    return algorithm, OptimWrapper(torch.optim.SGD(algorithm.parameters(), lr=0.01))


def _batch(it, n=10):
    g = torch.Generator().manual_seed(it)
    return dict(inputs=torch.randint(0, 256, (n, 3, 8, 8), dtype=torch.uint8, generator=g),
                data_samples=LabelBatch(torch.randint(1, 7, (n, ), generator=g)))


def _run(algorithm, optim, iterations, trace, start=0):
    for it in range(start, start + iterations):
        data = _batch(it)
        size_before = len(algorithm.buffer)
        sweeps = trace.setdefault('sweeps', [])
        training = algorithm.model.training      # the mode this update trains in
        log = algorithm.train_step(data, optim)
        mixed = len(algorithm._mixed['labels'])
        algorithm.observe(data)
        if len(algorithm.buffer) < size_before + 1 and size_before >= 500:
            sweeps.append(it)
        trace.setdefault('rows', []).append((it, size_before, mixed, 'loss_kl' in log,
                                             training))


def test_memory_replay_and_sweeps_follow_the_reference_timeline(monkeypatch):
    from clbox.buffers.uncertainty import UncertaintyMemory
    calls = []
    original = UncertaintyMemory.sweep

    def counted(self, predict, batch_size=32):
        calls.append(len(self))
        return original(self, predict, batch_size)
    monkeypatch.setattr(UncertaintyMemory, 'sweep', counted)
    algorithm, optim = _algorithm()
    algorithm.train()
    trace = {}
    _run(algorithm, optim, 301, trace)
    rows = {r[0]: r for r in trace['rows']}
    assert rows[100][1] == 500 and rows[99][1] == 495          # 5 per update
    assert all(rows[i][2] == 10 for i in range(100))           # no replay before 100
    assert all(rows[i][2] == 16 for i in range(100, 183))      # 83 batches of 6 ...
    assert rows[183][2] == 12                                  # ... and the last of 2
    assert all(rows[i][2] == 10 for i in range(184, 200))      # exhausted until 200
    assert rows[199][1] == 995 and rows[200][1] == 500 and rows[200][2] == 16
    # sweeps when full: at 199 and 299, the memory plus the batch (no replay then: 10)
    assert calls == [1000 + 10, 1000 + 10]
    assert rows[300][1] == 500
    # the model trains in eval mode from the 2nd update (BN statistics frozen)
    assert rows[0][4] and not any(r[4] for r in trace['rows'][1:])
    # soft labels from iteration 5, but only once a replay draw exists (iteration 100);
    # stale targets keep the KL on in the exhausted window 184..199
    assert not any(rows[i][3] for i in range(100)) and all(rows[i][3] for i in range(100, 301))


def test_corrected_variants_train_mode_and_no_stale_targets():
    algorithm, optim = _algorithm(
        eval_after_first_update=False,
        buffer=dict(type='UncertaintyMemory', size=60, sweep_size=20, per_batch=5),
        soft_labels=dict(patience=0, milestones=[0], ce_weights=[1.], kl_weights=[1.],
                         stale_targets=False))
    algorithm.train()
    trace = {}
    _run(algorithm, optim, 12, trace)
    assert all(r[4] for r in trace['rows'])                     # training mode kept
    # replay from iteration 4 (20 stored): 20 draws = 4 batches, then exhausted
    assert [r[2] for r in trace['rows']][4:9] == [16, 16, 16, 12, 10]
    assert [r[3] for r in trace['rows']][4:9] == [True] * 4 + [False]


def test_checkpoint_resumes_the_same_stream():
    algorithm, optim = _algorithm(
        buffer=dict(type='UncertaintyMemory', size=40, sweep_size=20, per_batch=5))
    algorithm.train()
    _run(algorithm, optim, 6, {})
    state = {k: v.clone() if torch.is_tensor(v) else v
             for k, v in algorithm.state_dict().items()}
    optim_state = optim.state_dict()
    rng = torch.get_rng_state()
    ref = {}
    _run(algorithm, optim, 8, ref, start=6)
    expected = {k: v.clone() for k, v in algorithm.state_dict().items() if torch.is_tensor(v)}
    resumed, optim2 = _algorithm(
        buffer=dict(type='UncertaintyMemory', size=40, sweep_size=20, per_batch=5))
    resumed.load_state_dict(state)
    optim2.load_state_dict(optim_state)
    resumed.train()                          # as the loop sets it when a pass resumes
    torch.set_rng_state(rng)
    again = {}
    _run(resumed, optim2, 8, again, start=6)
    assert [r[:4] for r in again['rows']] == [r[:4] for r in ref['rows']]
    for k, v in resumed.state_dict().items():
        if torch.is_tensor(v):
            torch.testing.assert_close(v, expected[k])
    assert torch.equal(resumed.buffer.storage['inputs'], algorithm.buffer.storage['inputs'])


def test_bad_soft_label_config_is_named():
    with pytest.raises(KeyError, match='soft_labels: unknown keys'):
        _algorithm(soft_labels=dict(temperture=2.))
    with pytest.raises(ValueError, match='same'):
        _algorithm(soft_labels=dict(milestones=[1, 2], kl_weights=[1.]))


def _two_rank_resume(rank, world_size, folder):
    """Each rank streams its own batches into its own memory (an 80 / 40 budget split in
    two); a checkpoint gathered at iteration 6, in the middle of each rank's replay draw,
    resumes both ranks exactly."""
    import os

    import torch.distributed as dist
    small = dict(type='UncertaintyMemory', size=80, sweep_size=40, per_batch=5)

    def batches(it):
        return _batch(1000 * rank + it)
    algorithm, optim = _algorithm(buffer=small)
    algorithm.train()
    assert algorithm.buffer.size == 40 and algorithm.buffer.sweep_size == 20
    for it in range(6):
        algorithm.train_step(batches(it), optim)
        algorithm.observe(batches(it))
    assert 0 < algorithm.replay.position < len(algorithm.replay.order)   # mid-draw
    algorithm.gather_rank_state()          # every rank calls it, rank 0 saves
    path = os.path.join(folder, 'ckpt.pth')
    if rank == 0:
        torch.save(dict(model=algorithm.state_dict(), optim=optim.state_dict()), path)
    algorithm.release_rank_state()
    rng = torch.get_rng_state()             # the replay augmentations' (per rank)
    # no DDP here, so the ranks' weights differ; under DDP they are rank 0's on every rank
    # (and the loop keeps each rank's BN buffers): keep this rank's task model aside
    own = {k: v.clone() for k, v in algorithm.model.state_dict().items()}
    dist.barrier()
    for it in range(6, 12):
        algorithm.train_step(batches(it), optim)
        algorithm.observe(batches(it))
    expected = algorithm.buffer.storage['labels'].tolist()
    resumed, optim2 = _algorithm(buffer=small)
    ckpt = torch.load(path, weights_only=False)
    resumed.load_state_dict(ckpt['model'])
    resumed.model.load_state_dict(own)
    optim2.load_state_dict(ckpt['optim'])
    resumed.train()
    torch.set_rng_state(rng)
    assert resumed.iteration == 6
    for it in range(6, 12):
        resumed.train_step(batches(it), optim2)
        resumed.observe(batches(it))
    return expected, resumed.buffer.storage['labels'].tolist(), len(resumed.buffer)


def test_two_ranks_keep_and_resume_their_own_memories(tmp_path):
    from dist_helpers import run_in_ranks
    (e0, r0, n0), (e1, r1, n1) = run_in_ranks(_two_rank_resume, str(tmp_path))
    assert e0 == r0 and e1 == r1 and e0 != e1
    assert n0 <= 40 and n1 <= 40


def test_head_finetune_steps_only_the_head_from_the_first_replay_draw():
    from clbox.buffers.uncertainty import ClassAwareCycle
    algorithm, optim = _algorithm(
        buffer=dict(type='UncertaintyMemory', size=60, sweep_size=20, per_batch=5),
        head_finetune=dict(lr=0.5, milestones=[2], gamma=0.1,
                           soft_labels=dict(patience=6, kl_weight=1.0)))
    algorithm.train()
    _run(algorithm, optim, 4, {})
    assert algorithm.head_cycle is None and algorithm.head_steps == 0
    _run(algorithm, optim, 1, {}, start=4)            # 20 stored: replay + head sampler
    assert algorithm.head_cycle is not None and algorithm.head_steps == 1
    backbone = {k: v.clone() for k, v in algorithm.model.backbone.state_dict().items()}
    head = algorithm.model.head.fc.weight.detach().clone()
    expected_batch = ClassAwareCycle.from_state(algorithm.head_cycle.state_dict()).next()
    loss = algorithm.head_step()
    for k, v in algorithm.model.backbone.state_dict().items():
        assert torch.equal(v, backbone[k]), k      # eval mode here: no BN update either
    assert not torch.equal(algorithm.model.head.fc.weight, head)
    assert all(p.grad is None for p in algorithm.parameters())   # nothing leaks
    assert algorithm._head_optimizer.param_groups[0]['lr'] == 0.5   # head step 1 < 2
    assert algorithm.head_cycle.in_pass >= 6 and loss > 0
    assert len(expected_batch['labels']) == 6
    algorithm.head_step()
    assert algorithm._head_optimizer.param_groups[0]['lr'] == pytest.approx(0.05)
