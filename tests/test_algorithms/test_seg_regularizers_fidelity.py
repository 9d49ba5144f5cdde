"""EWC, PI, RWalk and LwF-MC for segmentation against MiB's code (github.com/fcdl94/MiB).

The expected values are computed here, in plain torch, the way MiB does:

* ``utils/regularizer.py``: ``normalize_fn`` (lines 37-38, per tensor, ``+1e-8``); EWC's
  ``F <- 0.9 g^2 + 0.1 F`` from one (lines 92-99), carried into the next step (line 86);
  PI's ``w += g (theta_prev - theta)`` (lines 164-174) and ``max(w / (Delta^2 + 1e-20), 0)``
  summed over steps (lines 185-192); RW's score every ``reg_iterations`` (lines 261-279),
  clipped and averaged over steps (lines 281-287), ``minmax(F) + minmax(s)`` (lines
  231-243); the penalty ``sum Omega (theta - theta_old)^2`` (lines 101-109).
* ``train.py`` lines 98-139: the task loss's backward, ``update()`` on those gradients,
  then the penalty's backward times ``reg_importance``, then the optimizer step.
* MiB's model has one classifier ``Conv2d`` per step (``segmentation_module.py:64-66``), so
  the reference below keeps each step's classifier rows as a tensor of their own.
* LwF-MC: ``BCEWithLogitsLossWithIgnoreIndex`` (``utils/loss.py:31-54``) with
  ``reduction='none'`` and ``.mean()`` (``train.py:27-31,103,107``), and
  ``10 * C_old * BCEWithLogitsLoss(x_old, sigmoid(x_teacher))`` (``train.py:109-114``).
"""
import copy
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from helpers import ROOT, build_runner
from test_reminder_fidelity import mini_ade, mini_voc, paper_seg_cfg
from test_seg_methods import batches, build, scenario  # noqa: F401 (scenario: a fixture)

SEG = osp.join(ROOT, 'configs/continual_seg')
CLS = ('decode_head.conv_seg.weight', 'decode_head.conv_seg.bias')
EPS = 1e-8


# ------------------------------------------------------ MiB's regularisers, in plain torch
def ref_normalize(t):
    return (t - t.min()) / (t.max() - t.min() + EPS)


def split(tensors, blocks):
    """clbox's tensors as MiB's: the classifier's rows of step s become ``name@s``."""
    out = {}
    for n, t in tensors.items():
        if n in CLS:
            for s, (lo, hi) in enumerate(blocks):
                out[f'{n}@{s}'] = t[lo:hi]
        else:
            out[n] = t
    return out


class RefEWC:
    """``utils/regularizer.py:59-109``."""

    def __init__(self, keys, fisher=None, alpha=0.9):
        self.alpha = alpha
        self.omega = {k: ref_normalize(f) for k, f in (fisher or {}).items()}
        self.fisher = {k: (fisher[k].clone() if fisher and k in fisher else torch.ones(s))
                       for k, s in keys.items()}

    def update(self, grads, params):
        for k, g in grads.items():
            self.fisher[k] = self.alpha * g ** 2 + (1 - self.alpha) * self.fisher[k]

    def state(self):
        return dict(fisher={k: f.clone() for k, f in self.fisher.items()})


class RefPI:
    """``utils/regularizer.py:126-193``; ``start`` = the step's first weights."""

    def __init__(self, keys, start, score=None):
        self.prev = score or {}
        self.omega = {k: ref_normalize(s) for k, s in self.prev.items()}
        self.start = {k: v.clone() for k, v in start.items()}
        self.delta = {k: torch.zeros(s) for k, s in keys.items()}
        self.temp = None

    def update(self, grads, params):
        if self.temp is not None:
            for k, g in grads.items():
                self.delta[k] += g * (self.temp[k] - params[k])
        self.temp = {k: p.clone() for k, p in params.items()}

    def state(self, params):
        score = {}
        for k, p in params.items():
            s = self.delta[k] / ((p - self.start[k]) ** 2 + 1e-20)
            s = torch.where(s > 0, s, torch.tensor(0.))
            score[k] = s + self.prev[k] if k in self.prev else s
        return dict(score=score)


class RefRW:
    """``utils/regularizer.py:209-297``."""

    def __init__(self, keys, fisher=None, score=None, alpha=0.9, iterations=10):
        self.alpha, self.iterations, self.count, self.temp = alpha, iterations, 0, None
        self.omega = {}
        if fisher is not None:
            self.omega = {k: ref_normalize(f) for k, f in fisher.items()}
            for k, s in score.items():
                self.omega[k] = self.omega[k] + ref_normalize(s)
        self.score_old = score
        self.fisher = {k: (fisher[k].clone() if fisher and k in fisher else torch.ones(s))
                       for k, s in keys.items()}
        self.score = {k: torch.zeros(s) for k, s in keys.items()}

    def update(self, grads, params):
        if self.count % self.iterations == 0:
            if self.temp is not None:
                for k, g in grads.items():
                    num = g * (self.temp[k] - params[k])
                    den = 0.5 * self.fisher[k] * (params[k] - self.temp[k]) ** 2 + EPS
                    self.score[k] += num / den
            self.temp = {k: p.clone() for k, p in params.items()}
        self.count += 1
        for k, g in grads.items():
            self.fisher[k] = self.alpha * g ** 2 + (1 - self.alpha) * self.fisher[k]

    def state(self, params=None):
        score = {}
        for k, s in self.score.items():
            score[k] = torch.where(s >= 0, s, torch.tensor(0.))
            if self.score_old is not None and k in self.score_old:
                score[k] = 0.5 * (score[k] + self.score_old[k])
        return dict(fisher={k: f.clone() for k, f in self.fisher.items()}, score=score)


# ----------------------------------------------------------------------------- helpers
def loader(exp):
    """Batches of 4 (the fidelity runs' batch)."""
    return batches(exp, size=4)


def ref_task_loss(model, alg, batch, k):
    """Plain cross-entropy over the ``k`` active classes (MiB's criterion at train.py:103)."""
    data = alg.data_preprocessor(batch, True)
    x = data['inputs']
    labels = torch.stack([s.gt_sem_seg.data[0] for s in data['data_samples']]).long()
    logits = model.decode_head(model.extract_feat(x))[:, :k]
    logits = F.interpolate(logits, size=x.shape[-2:], mode='bilinear', align_corners=False)
    return F.cross_entropy(logits, labels, ignore_index=255)


def close(a, b, rtol=1e-5, atol=1e-7):
    assert set(a) == set(b), set(a) ^ set(b)
    for k in a:
        assert torch.allclose(a[k], b[k], rtol=rtol, atol=atol), \
            (k, (a[k] - b[k]).abs().max().item())


def run_method_and_reference(method, scenario, steps=2, epochs=2, lrs=(0.01, 1e-4),
                             **kwargs):
    """clbox's ``train_step`` and MiB's loop (``train.py:98-139``) side by side from the same
    weights and batches; returns both sides' per-step records."""
    alg = build(method, **kwargs)
    ref = copy.deepcopy(alg.model)
    weight = alg.reg_weight
    interval = kwargs.get('score_interval', 10)
    mine, theirs = [], []
    ref_state, old_params, blocks = None, None, []
    for step in range(steps):
        exp = scenario.train_stream[step]
        alg.before_experience(exp)
        k = alg.num_active
        blocks.append((alg.num_old, k))
        optim = dict(type='SGD', lr=lrs[step], momentum=0.9, weight_decay=1e-4)
        wrapper = build_optim_wrapper(alg, dict(optimizer=optim))
        ref_opt = torch.optim.SGD(ref.parameters(), **{a: v for a, v in optim.items()
                                                       if a != 'type'})
        params = dict(ref.named_parameters())
        live = split(params, blocks)
        keys = {n: p.shape for n, p in live.items()}
        start = {n: p.detach().clone() for n, p in live.items()}
        if method == 'SegEWC':
            reg = RefEWC(keys, **(ref_state or {}))
        elif method == 'PI':
            reg = RefPI(keys, start, **(ref_state or {}))
        else:
            reg = RefRW(keys, iterations=interval, **(ref_state or {}))
        alg.train()
        ref.train()
        logs, penalties = [], []
        for _ in range(epochs):
            for batch in loader(exp):
                logs.append(alg.train_step(batch, wrapper))
                # MiB's iteration: task backward, update(), penalty backward, step
                ref_opt.zero_grad()
                ref_task_loss(ref, alg, batch, k).backward()
                reg.update(split({n: p.grad.detach().clone() for n, p in params.items()},
                                 blocks),
                           {n: p.detach().clone() for n, p in live.items()})
                if reg.omega:
                    pen = weight * sum((reg.omega[n] * (live[n] - old_params[n]) ** 2).sum()
                                       for n in reg.omega)
                    pen.backward()
                    penalties.append(pen.item())
                ref_opt.step()
        alg.after_experience(exp, None)
        final = {n: p.detach().clone() for n, p in live.items()}
        ref_state = reg.state(final) if method == 'PI' else reg.state()
        old_params = final
        mine.append(dict(logs=logs, importance=copy.deepcopy(alg.importance),
                         raw=copy.deepcopy(alg.raw_importance),
                         params={n: p.detach().clone() for n, p in alg.params().items()}))
        theirs.append(dict(penalties=penalties, state=copy.deepcopy(ref_state),
                           params={n: p.detach().clone() for n, p in params.items()}))
    return alg, mine, theirs, blocks


def ref_omega(method, state):
    """The penalty weights MiB builds from a stored state at the next step's start."""
    if method == 'SegEWC':
        return RefEWC({}, fisher=state['fisher']).omega
    if method == 'PI':
        return RefPI({}, {}, score=state['score']).omega
    return RefRW({}, fisher=state['fisher'], score=state['score']).omega


# ------------------------------------------------------- importances after one step
@pytest.mark.parametrize('method,kwargs', [('SegEWC', {}), ('PI', {}),
                                           ('RWalk', dict(score_interval=3))])
def test_step0_importances_match_mib(method, kwargs, scenario):
    """After step 0 (no penalty yet, so both sides train bit-identically): the raw Fisher /
    path score / RW score and the per-tensor normalised penalty weights equal MiB's."""
    alg, mine, theirs, blocks = run_method_and_reference(method, scenario, steps=1,
                                                         **kwargs)
    assert 'loss_reg' not in mine[0]['logs'][-1]
    close(mine[0]['params'], theirs[0]['params'], rtol=0, atol=0)   # same training
    state = theirs[0]['state']
    for name, ref in state.items():
        close(split(mine[0]['raw'][name], blocks), ref, rtol=1e-6, atol=0)
    omega = mine[0]['importance']
    close(split(omega, blocks), ref_omega(method, state), rtol=1e-5, atol=1e-7)
    # per tensor: every importance tensor reaches ~1 (a joint scaling left most < 0.01)
    # (PI: unless all of a tensor's path scores are <= 0, as for two 4-channel BN weights)
    raw = split(mine[0]['raw']['score' if method == 'PI' else 'fisher'], blocks)
    tops = [v.max().item() for n, v in split(omega, blocks).items() if raw[n].max() > 0]
    assert len(tops) >= len(raw) - 2 and min(tops) > 0.99
    for n in CLS:  # rows of classes not seen yet: no importance
        assert not omega[n][alg.num_active:].any()


# ----------------------------------------------------- penalty and step-1 statistics
@pytest.mark.parametrize('method,kwargs', [('SegEWC', {}), ('PI', {}),
                                           ('RWalk', dict(score_interval=3))])
def test_step1_penalty_matches_mib(method, kwargs, scenario):
    """Step 1: the logged ``loss_reg`` of every iteration is MiB's ``reg_importance *
    penalty()`` (500 EWC / PI, 100 RW), the penalty's gradient is added after the
    statistics (same weights as MiB's two backward passes), and the new classifier rows are
    not penalised."""
    alg, mine, theirs, blocks = run_method_and_reference(method, scenario, **kwargs)
    assert alg.reg_weight == {'SegEWC': 500.0, 'PI': 500.0, 'RWalk': 100.0}[method]
    logged = [log['loss_reg'] for log in mine[1]['logs']]
    assert len(logged) == len(theirs[1]['penalties']) > 0
    assert logged == pytest.approx(theirs[1]['penalties'], rel=1e-4, abs=1e-9)
    assert logged[-1] > 0
    close(mine[1]['params'], theirs[1]['params'], rtol=1e-4, atol=1e-7)
    assert blocks == [(0, 3), (3, 5)]


def test_ewc_keeps_the_latest_fisher_from_task_gradients(scenario):
    """MiB's EWC stores the online Fisher carried on through step 1 (started from step 0's,
    new classifier at one) and the next penalty is its normalisation: no average with the
    past; the Fisher sees the task-loss gradients only."""
    alg, mine, theirs, blocks = run_method_and_reference('SegEWC', scenario)
    close(split(mine[1]['raw']['fisher'], blocks), theirs[1]['state']['fisher'],
          rtol=1e-3, atol=1e-10)
    latest = {n: ref_normalize(f) for n, f in theirs[1]['state']['fisher'].items()}
    close(split(mine[1]['importance'], blocks), latest, rtol=1e-3, atol=1e-5)
    # the earlier variant (mean with the previous weights) is still selectable
    mean_alg, mean_mine, _, _ = run_method_and_reference('SegEWC', scenario,
                                                         fisher_merge='mean')
    old, new = mean_mine[0]['importance'], mean_mine[1]['importance']
    expected = {n: ref_normalize(f) for n, f in
                split(mean_mine[1]['raw']['fisher'], blocks).items()}
    for n, t in expected.items():
        if n.endswith('@1'):
            continue  # the new classifier has no past
        past = split(old, blocks)[n]
        assert torch.allclose(split(new, blocks)[n], 0.5 * (past + t), atol=1e-6)


@pytest.mark.parametrize('source', ['task_loss', 'total_loss'])
def test_fisher_from_task_or_total_gradients(source, scenario):
    """``importance_from='task_loss'`` (MiB: ``update()`` runs before the penalty's
    backward) leaves the penalty's gradient out of the Fisher; ``'total_loss'`` (the
    earlier clbox variant) puts it in."""
    alg = build('SegEWC', importance_from=source)
    thetas, grads = random_trajectory(alg, 2, seed=1)
    feed(alg, exp_of(0, [0, 1, 2]), thetas, grads)
    exp = scenario.train_stream[1]
    alg.before_experience(exp)
    with torch.no_grad():  # away from the anchor, so the penalty has a gradient
        for p in alg.params().values():
            p.add_(0.01)
    batch = loader(exp)[0]
    model = copy.deepcopy(alg.model)
    ref_task_loss(model, alg, batch, alg.num_active).backward()
    fisher0 = {n: f.clone() for n, f in alg.fisher.items()}
    params = alg.params()
    alg.train_step(batch, build_optim_wrapper(alg, dict(optimizer=dict(type='SGD', lr=0.0))))
    for n, p in model.named_parameters():
        g = p.grad
        if source == 'total_loss':
            g = g + 2 * 500.0 * alg.importance[n] * (params[n].detach() - alg.anchor[n])
        expected = 0.9 * g ** 2 + 0.1 * fisher0[n]
        assert torch.allclose(alg.fisher[n], expected, rtol=1e-4, atol=1e-10), n
    assert (fisher0['decode_head.conv_seg.bias'][3:5] == 1).all()  # new rows restart at 1


# ------------------------------------------------------ PI and RW over steps, by formula
def random_trajectory(alg, steps, seed, scale=1e-3):
    """Random weights and gradients for ``steps`` updates (theta_0..theta_steps)."""
    g = torch.Generator().manual_seed(seed)
    params = alg.params()
    thetas = [{n: p.detach().clone() for n, p in params.items()}]
    grads = []
    for _ in range(steps):
        grads.append({n: torch.randn(p.shape, generator=g) for n, p in params.items()})
        thetas.append({n: t + scale * torch.randn(t.shape, generator=g)
                       for n, t in thetas[-1].items()})
    return thetas, grads


def feed(alg, exp, thetas, grads):
    """What ``train_step`` hands over: each update's gradients with the weights before it;
    then the step's end with the weights after the last update."""
    alg.before_experience(exp)
    params = alg.params()
    for theta, grad in zip(thetas, grads):
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(theta[n])
        alg.observe_gradients(grad, theta)
    with torch.no_grad():
        for n, p in params.items():
            p.copy_(thetas[-1][n])
    alg.after_experience(exp, None)


def exp_of(index, classes):
    return SimpleNamespace(index=index, classes=list(classes))


def test_pi_over_two_steps_matches_mib():
    alg = build('PI')
    exps = [exp_of(0, [0, 1, 2]), exp_of(1, [3, 4])]
    blocks, state = [], None
    for s, exp in enumerate(exps):
        thetas, grads = random_trajectory(alg, 5, seed=s)
        blocks.append((min(exp.classes), max(exp.classes) + 1) if s else (0, 3))
        th = [split(t, blocks) for t in thetas]
        ref = RefPI({n: t.shape for n, t in th[0].items()}, th[0], **(state or {}))
        for t, gr in zip(th, grads):
            ref.update(split(gr, blocks), t)
        state = ref.state(th[-1])
        feed(alg, exp, thetas, grads)
        close(split(alg.raw_importance['score'], blocks), state['score'], rtol=1e-5)
        close(split(alg.importance, blocks), ref_omega('PI', state), rtol=1e-4, atol=1e-6)
    assert alg.xi == 1e-20
    # the new classifier rows take step 1's score only; the old ones add both steps'
    assert state['score']['decode_head.conv_seg.weight@1'].shape[0] == 2


def test_pi_current_gradient_variant():
    """``path_gradient='current'``: ``-sum_k g_k (theta_{k+1} - theta_k)``, last move in."""
    alg = build('PI', path_gradient='current')
    thetas, grads = random_trajectory(alg, 4, seed=7)
    feed(alg, exp_of(0, [0, 1, 2]), thetas, grads)
    name = 'backbone.stem.0.weight'
    w = sum(-grads[k][name] * (thetas[k + 1][name] - thetas[k][name]) for k in range(4))
    s = w / ((thetas[-1][name] - thetas[0][name]) ** 2 + 1e-20)
    assert torch.allclose(alg.raw_importance['score'][name], s.clamp(min=0), rtol=1e-5)


def test_rwalk_over_two_steps_matches_mib():
    alg = build('RWalk')  # MiB's reg_iterations = 10: 23 updates, two score windows
    exps = [exp_of(0, [0, 1, 2]), exp_of(1, [3, 4])]
    blocks, state = [], None
    for s, exp in enumerate(exps):
        thetas, grads = random_trajectory(alg, 23, seed=10 + s)
        blocks.append((3, 5) if s else (0, 3))
        th = [split(t, blocks) for t in thetas]
        ref = RefRW({n: t.shape for n, t in th[0].items()}, **(state or {}))
        for t, gr in zip(th, grads):
            ref.update(split(gr, blocks), t)
        state = ref.state()
        feed(alg, exp, thetas, grads)
        close(split(alg.raw_importance['fisher'], blocks), state['fisher'], rtol=1e-5)
        close(split(alg.raw_importance['score'], blocks), state['score'], rtol=1e-4,
              atol=1e-6)
        close(split(alg.importance, blocks), ref_omega('RWalk', state), rtol=1e-4,
              atol=1e-6)
    assert alg.score_interval == 10 and alg.eps == 1e-8 and alg.reg_weight == 100.0


def test_rwalk_path_variant():
    """``score_estimate='path'``: the window's summed ``-g_k (theta_{k+1} - theta_k)``."""
    alg = build('RWalk', score_interval=3, score_estimate='path')
    thetas, grads = random_trajectory(alg, 4, seed=3)  # one window: updates 0..2
    feed(alg, exp_of(0, [0, 1, 2]), thetas, grads)
    name = 'backbone.stem.0.weight'
    fisher = torch.ones_like(grads[0][name])
    for k in range(3):
        fisher = 0.9 * grads[k][name] ** 2 + 0.1 * fisher
    change = sum(-grads[k][name] * (thetas[k + 1][name] - thetas[k][name]) for k in range(3))
    s = change / (0.5 * fisher * (thetas[3][name] - thetas[0][name]) ** 2 + EPS)
    assert torch.allclose(alg.raw_importance['score'][name], s.clamp(min=0), rtol=1e-4)


def test_global_normalisation_variant_and_errors():
    alg = build('SegEWC', normalize='global')
    thetas, grads = random_trajectory(alg, 2, seed=5)
    feed(alg, exp_of(0, [0, 1, 2]), thetas, grads)
    raw = alg.raw_importance['fisher']
    vals = [t if n not in CLS else t[:3] for n, t in raw.items()]
    lo, hi = min(v.min() for v in vals), max(v.max() for v in vals)
    name = 'backbone.stem.0.weight'
    assert torch.allclose(alg.importance[name], (raw[name] - lo) / (hi - lo))
    for key, kwargs in [('normalize', dict(normalize='layer')),
                        ('importance_from', dict(importance_from='penalty')),
                        ('fisher_merge', dict(fisher_merge='sum'))]:
        with pytest.raises(ValueError, match=key):
            build('SegEWC', **kwargs)
    with pytest.raises(ValueError, match='path_gradient'):
        build('PI', path_gradient='previous')
    with pytest.raises(ValueError, match='score_estimate'):
        build('RWalk', score_estimate='sum')
    with pytest.raises(ValueError, match='fisher_merge'):
        build('RWalk', fisher_merge='mean')
    with pytest.raises(ValueError, match='cls_loss'):
        build('LwFMC', cls_loss='focal')


def test_running_statistics_survive_a_checkpoint(scenario):
    """A resume inside a step continues the same statistics (MiB checkpoints them too)."""
    alg = build('RWalk', score_interval=2)
    exp = scenario.train_stream[0]
    alg.before_experience(exp)
    wrapper = build_optim_wrapper(alg, dict(optimizer=dict(type='SGD', lr=0.01)))
    for batch in loader(exp)[:3]:
        alg.train_step(batch, wrapper)
    again = build('RWalk', score_interval=2)
    again.load_state_dict(copy.deepcopy(alg.state_dict()))
    assert again.count == alg.count == 3
    close(again.fisher, alg.fisher, rtol=0, atol=0)
    close(again.score, alg.score, rtol=0, atol=0)


class _Scaler:
    """A fixed loss scale with GradScaler's calls that the train step uses."""

    def get_scale(self):
        return 8.0

    def is_enabled(self):
        return True


def test_a_loss_scale_is_undone_for_the_statistics_and_the_penalty(scenario):
    """With an AMP-style scaled backward, the statistics see true gradients and the
    penalty's gradient is scaled like the loss's: same Fisher and weights as unscaled."""
    from mmengine.optim import OptimWrapper

    class Scaled(OptimWrapper):
        loss_scaler = _Scaler()

        def backward(self, loss, **kwargs):
            super().backward(loss * 8.0, **kwargs)

        def step(self, **kwargs):
            for group in self.optimizer.param_groups:
                for p in group['params']:
                    if p.grad is not None:
                        p.grad.div_(8.0)
            super().step(**kwargs)

    runs = []
    for wrapper_type in (OptimWrapper, Scaled):
        alg = build('SegEWC')
        thetas, grads = random_trajectory(alg, 2, seed=2)
        feed(alg, exp_of(0, [0, 1, 2]), thetas, grads)
        exp = scenario.train_stream[1]
        alg.before_experience(exp)
        with torch.no_grad():
            for p in alg.params().values():
                p.add_(0.01)
        wrapper = wrapper_type(torch.optim.SGD(alg.parameters(), lr=1e-3))
        logs = [alg.train_step(b, wrapper) for b in loader(exp)[:2]]
        runs.append((alg, logs))
    (plain, plain_logs), (scaled, scaled_logs) = runs
    close(scaled.fisher, plain.fisher, rtol=1e-4, atol=1e-10)
    close(scaled.params(), plain.params(), rtol=1e-5, atol=1e-7)
    assert [log['loss_reg'] for log in scaled_logs] == pytest.approx(
        [log['loss_reg'] for log in plain_logs], rel=1e-5)


# ------------------------------------------------------------------------------ LwF-MC
def ref_bce(logits, labels, mean_over='all'):
    """``BCEWithLogitsLossWithIgnoreIndex(reduction='none')`` then ``.mean()``."""
    c = logits.shape[1]
    new = torch.where(labels != 255, labels, torch.tensor(c))
    target = F.one_hot(new, c + 1).float().permute(0, 3, 1, 2)[:, :c]
    loss = F.binary_cross_entropy_with_logits(logits, target, reduction='none').sum(1)
    loss = loss * target.sum(1)
    return loss.mean() if mean_over == 'all' else loss.sum() / (labels != 255).sum()


def ref_icarl(logits, old, weight=10.0):
    n_old = old.shape[1]
    return weight * n_old * torch.nn.BCEWithLogitsLoss()(logits[:, :n_old],
                                                         torch.sigmoid(old))


def test_lwf_mc_terms_match_mib():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 9, 11, generator=g) * 3
    labels = torch.randint(0, 5, (2, 9, 11), generator=g)
    labels[torch.rand(labels.shape, generator=g) < 0.2] = 255
    old = torch.randn(2, 3, 9, 11, generator=g)
    for mean in ('all', 'valid'):
        alg = build('LwFMC', pixel_mean=mean)
        mine = alg.ce_loss(dict(logits=logits), labels)
        assert mine.item() == pytest.approx(ref_bce(logits, labels, mean).item(), rel=1e-5)
    kd = alg.extra_losses(None, dict(logits=logits), labels, dict(logits=old))
    assert kd['loss_bce_kd'].item() == pytest.approx(ref_icarl(logits, old).item(),
                                                     rel=1e-5)
    ce = build('LwFMC', cls_loss='ce').ce_loss(dict(logits=logits), labels)
    assert ce.item() == pytest.approx(
        F.cross_entropy(logits, labels, ignore_index=255).item(), rel=1e-5)


def test_lwf_mc_trains_with_bce_at_every_step(scenario):
    alg = build('LwFMC')
    for step in (0, 1):
        exp = scenario.train_stream[step]
        alg.before_experience(exp)
        data = alg.data_preprocessor(loader(exp)[0], True)
        losses = alg.loss(data['inputs'], data['data_samples'])
        assert set(losses) == ({'loss_bce'} if step == 0 else {'loss_bce', 'loss_bce_kd'})
        out = alg.segment(data['inputs'])
        labels = torch.stack([s.gt_sem_seg.data[0] for s in data['data_samples']]).long()
        expected = ref_bce(out['logits'], labels, 'valid')
        assert losses['loss_bce'].item() == pytest.approx(expected.item(), rel=1e-5)
        if step:
            old = alg.teacher_outputs(data['inputs'])['logits']
            assert losses['loss_bce_kd'].item() == pytest.approx(
                ref_icarl(out['logits'], old).item(), rel=1e-5)
        alg.after_experience(exp, None)


# ------------------------------------------------------------------------- paper configs
PAPER = {'ewc': ('SegEWC', dict(reg_weight=500.0, alpha=0.9, fisher_merge='latest',
                                normalize='tensor', importance_from='task_loss')),
         'pi': ('PI', dict(reg_weight=500.0, xi=1e-20, path_gradient='next',
                           normalize='tensor', importance_from='task_loss')),
         'rwalk': ('RWalk', dict(reg_weight=100.0, alpha=0.9, score_interval=10, eps=1e-8,
                                 score_estimate='endpoint', normalize='tensor')),
         'lwf-mc': ('LwFMC', dict(cls_loss='bce', pixel_mean='valid'))}
SETTINGS = ('1xb24-30e_voc-15-1-ov', '1xb24-30e_voc-15-5-ov', '1xb24-60e_ade-100-50')


def test_paper_configs_hold_the_reference_values():
    for method, (typ, values) in PAPER.items():
        for setting in SETTINGS:
            m = Config.fromfile(osp.join(SEG, f'{method}_deeplabv3-r101-d8_{setting}.py')).model
            assert m.type == typ
            assert {k: m[k] for k in values} == values
            assert m.lr_per_step == [0.01, 0.001]
            if method == 'lwf-mc':
                assert m.distill == dict(type='SegBCEDistillLoss', loss_weight=10.0)
        # the class defaults are the same values (the tiny configs rely on them)
        alg = build(typ)
        assert all(getattr(alg, k) == v for k, v in values.items()), typ


@pytest.mark.parametrize('name,make', [
    ('ewc_deeplabv3-r101-d8_1xb24-30e_voc-15-5-ov.py', mini_voc),
    ('pi_deeplabv3-r101-d8_1xb24-60e_ade-100-50.py', mini_ade),
    ('rwalk_deeplabv3-r101-d8_1xb24-30e_voc-15-5-ov.py', mini_voc),
    ('lwf-mc_deeplabv3-r101-d8_1xb24-60e_ade-100-50.py', mini_ade)],
    ids=['ewc-voc', 'pi-ade', 'rwalk-voc', 'lwf-mc-ade'])
def test_paper_config_runs_each_step(name, make, tmp_path, monkeypatch):
    cfg = paper_seg_cfg(name, make, tmp_path, monkeypatch)
    runner = build_runner(cfg)
    runner.train()
    alg = runner.train_loop.algorithm
    assert [h['experience'] for h in runner.train_loop.history] == [0, 1]
    if hasattr(alg, 'importance'):
        assert alg.importance and all(torch.isfinite(v).all() for v in alg.importance.values())
