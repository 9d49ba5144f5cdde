"""The shared part of the weight-importance penalties for segmentation (EWC, RWalk, PI), as
MiB's benchmark runs them (Cermelli et al., CVPR 2020, arXiv:2002.00718; reference code
github.com/fcdl94/MiB, cited below as ``file:line``).

What MiB does, and this module reproduces by default:

* **Stepping** (``train.py:124-139``): each iteration back-propagates the task loss
  (cross-entropy or BCE plus any distillation), then calls the regulariser's ``update()``
  on those gradients (``train.py:131-133``), then back-propagates
  ``reg_importance * penalty()`` (``train.py:134-137``) and steps the optimizer. The
  importance statistics therefore see the *task* gradients, never the penalty's, and the
  parameters *before* the update.
* **Penalty** (``utils/regularizer.py:101-109,176-183,289-297``):
  ``reg_importance * sum_i Omega_i (theta_i - theta*_i)^2`` over the parameters of the
  previous step's model (its new classifier is not penalised), ``theta*`` = that model.
* **Normalisation** (``utils/regularizer.py:37-38,84,155,236,243``): each stored importance
  tensor is min-max scaled on its own, ``(x - min) / (max - min + 1e-8)``, when the next
  step loads it (``--reg_no_normalize`` is off by default, ``argparser.py:162``).
* **Tensors**: MiB's classifier is one ``Conv2d`` per step (``segmentation_module.py:64-66``);
  clbox preallocates one classifier for every class, so its weight and bias are split into
  the rows of each step's classes, and each block is normalised as MiB's separate tensors
  are. Rows of classes not seen yet get no importance (MiB's model has no such rows).
* **Ranks**: MiB updates the statistics on rank 0 only (``train.py:132``) from DDP's
  averaged gradients and every rank loads them from rank 0's checkpoint. Here every rank
  updates them from the same all-reduced gradients, and the step's importances are also
  averaged over ranks, so they are identical on every rank.
"""
from contextlib import contextmanager
from typing import Callable, Dict, List, Optional, Tuple

import torch

from .seg_base import SegContinualAlgorithm

#: MiB's ``EPS`` (``utils/regularizer.py:4``): in the min-max normalisation and RWalk's
#: denominator.
MIB_EPS = 1e-8
#: ``normalize`` values: per tensor (MiB), jointly over all tensors (earlier clbox), none.
NORMALIZE_MODES = ('tensor', 'global', 'none')
#: ``importance_from`` values: the task loss's gradients (MiB) or the total loss's.
IMPORTANCE_SOURCES = ('task_loss', 'total_loss')

Tensors = Dict[str, torch.Tensor]
RowGroups = Dict[str, List[Tuple[int, int]]]


def check_choice(key: str, value, choices, fix: str = '') -> None:
    """Raise a ``ValueError`` naming ``key`` when ``value`` is not one of ``choices``."""
    if value not in choices:
        raise ValueError(f'{key} must be one of {list(choices)}, got {value!r}. {fix}'.strip())


def minmax_tensor(t: torch.Tensor, eps: float = MIB_EPS) -> torch.Tensor:
    """MiB's ``normalize_fn`` (``utils/regularizer.py:37-38``): ``(t - min) / (max - min +
    eps)`` over one tensor."""
    return (t - t.min()) / (t.max() - t.min() + eps)


def normalize_importance(raw: Tensors, groups: RowGroups, mode: str = 'tensor') -> Tensors:
    """Scale importances to [0, 1].

    Args:
        raw (dict): name -> importance tensor.
        groups (dict): name -> row ranges ``[(lo, hi), ...]`` that are separate tensors in
            MiB (the per-step classifiers); rows outside every range become 0. Names not in
            ``groups`` are one block.
        mode (str): ``'tensor'``: every block on its own (MiB); ``'global'``: one min and max
            over all blocks together (the earlier clbox scaling, under which most tensors
            ended below 0.01); ``'none'``: unscaled (MiB's ``--reg_no_normalize``).

    Returns:
        dict: name -> scaled tensor, same shapes.
    """
    check_choice('normalize', mode, NORMALIZE_MODES)
    blocks = {n: [(a, b) for a, b in groups[n] if b > a] for n in raw if n in groups}
    lo, span = 0.0, 1.0
    if mode == 'global':
        parts = [t for n, t in raw.items() if n not in groups] + \
            [raw[n][a:b] for n, bs in blocks.items() for a, b in bs]
        if parts:
            lo = min(float(p.min()) for p in parts)
            hi = max(float(p.max()) for p in parts)
            span = hi - lo if hi > lo else 1.0

    def scale(block: torch.Tensor) -> torch.Tensor:
        if mode == 'tensor':
            return minmax_tensor(block)
        return (block - lo) / span if mode == 'global' else block

    out = {}
    for n, t in raw.items():
        if n not in groups:
            out[n] = scale(t)
            continue
        res = torch.zeros_like(t)
        for a, b in blocks[n]:
            res[a:b] = scale(t[a:b])
        out[n] = res
    return out


def to_device(obj, device):
    """Tensors inside nested dicts/lists moved to ``device`` (checkpoints load on the CPU)."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(v, device) for v in obj)
    return obj


def grad_factor(optim_wrapper) -> Tuple[float, bool]:
    """What ``p.grad`` holds per unit of true gradient after ``backward(scale_loss(loss))``:
    ``1 / accumulation`` (mmengine's ``scale_loss``) times the AMP loss scale; and whether
    an AMP scaler is in use (its overflow steps are skipped by the optimizer)."""
    ratio = float(optim_wrapper.scale_loss(torch.ones(())))
    scaler = getattr(optim_wrapper, 'loss_scaler', None)
    if scaler is not None and getattr(scaler, 'is_enabled', lambda: True)():
        return ratio * float(scaler.get_scale()), True
    return ratio, False


class ImportanceRegularized(SegContinualAlgorithm):
    """The task loss plus ``reg_weight * sum_i Omega_i (theta_i - theta*_i)^2``, stepped as
    MiB steps its regularisers (see the module docstring).

    Subclasses implement a step's statistics: :meth:`begin_step` (reset at an experience
    start; MiB builds a new regulariser per step), :meth:`observe_gradients` (each update,
    after the task loss's backward, before the optimizer step: MiB's ``update()``),
    :meth:`end_step` (the raw importances MiB stores in its checkpoint) and
    :meth:`penalty_weights` (the normalised ``Omega`` of the next step). Everything they keep
    is listed in ``running_attrs`` and checkpointed, so a resume inside a step continues
    the same statistics.

    Args:
        model (dict): The segmentor.
        reg_weight (float): Penalty weight, MiB's ``reg_importance`` (its per-method values
            are set by the subclasses). Defaults to 100.
        normalize (str | bool): ``'tensor'`` (or True): min-max per tensor, MiB's
            (``utils/regularizer.py:37-38``); ``'global'``: jointly over all tensors (the
            earlier clbox variant); ``'none'`` (or False): unscaled. Defaults to 'tensor'.
        importance_from (str): ``'task_loss'``: statistics from the gradients of the loss
            without the penalty (MiB, ``train.py:124-137``); ``'total_loss'``: including the
            penalty's gradients (the earlier clbox variant). Defaults to 'task_loss'.
        **kwargs: See :class:`SegContinualAlgorithm`.
    """

    #: Attributes holding the running statistics (checkpointed, reset by begin_step).
    running_attrs: Tuple[str, ...] = ()

    def __init__(self, model, reg_weight: float = 100.0, normalize='tensor',
                 importance_from: str = 'task_loss', **kwargs):
        super().__init__(model, **kwargs)
        if normalize is True:
            normalize = 'tensor'
        elif normalize is False:
            normalize = 'none'
        check_choice('normalize', normalize, NORMALIZE_MODES,
                     "('tensor' is MiB's per-tensor min-max scaling)")
        check_choice('importance_from', importance_from, IMPORTANCE_SOURCES,
                     "('task_loss' is MiB's: gradients before the penalty is added)")
        if not reg_weight >= 0:
            raise ValueError(f'reg_weight must be >= 0, got {reg_weight!r}.')
        self.reg_weight = float(reg_weight)
        self.normalize = normalize
        self.importance_from = importance_from
        self.importance: Tensors = {}
        self.anchor: Tensors = {}
        self.raw_importance: Dict[str, Tensors] = {}
        self.__dict__['_penalty_by_hand'] = False

    # ------------------------------------------------------------ parameters
    def params(self) -> Tensors:
        """The trained parameters, by name in the segmentor."""
        return {n: p for n, p in self.model.named_parameters() if p.requires_grad}

    def classifier_names(self) -> List[str]:
        """Names of the classifier's weight and bias (``decode_head.conv_seg``)."""
        conv = getattr(self.model.decode_head, 'conv_seg', None)
        ids = {id(p) for p in conv.parameters()} if conv is not None else set()
        return [n for n, p in self.model.named_parameters() if id(p) in ids]

    def row_groups(self) -> RowGroups:
        """The classifier's rows per step (MiB's one ``Conv2d`` per step,
        ``segmentation_module.py:64-66``), over the classes seen so far."""
        ranges, lo = [], 0
        for key in sorted(self.step_classes, key=int):
            hi = max([lo] + [c + 1 for c in self.step_classes[key]])
            hi = min(hi, self.num_active)
            if hi > lo:
                ranges.append((lo, hi))
                lo = hi
        return {n: ranges for n in self.classifier_names()}

    def merge_old(self, new: Tensors, old: Optional[Tensors],
                  fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Tensors:
        """``fn(new, old)`` on the entries the previous step's model had (MiB: keys of the
        stored state, e.g. ``utils/regularizer.py:191,285``), ``new`` elsewhere (the new
        classes' classifier rows)."""
        if not old:
            return dict(new)
        cls, k = set(self.classifier_names()), self.num_old
        out = {}
        for n, t in new.items():
            if n not in old:
                out[n] = t
            elif n in cls:
                res = t.clone()
                res[:k] = fn(t[:k], old[n][:k].to(t.device))
                out[n] = res
            else:
                out[n] = fn(t, old[n].to(t.device))
        return out

    def normalized(self, raw: Tensors) -> Tensors:
        """``raw`` scaled as ``normalize`` says, per MiB tensor (:meth:`row_groups`)."""
        return normalize_importance(raw, self.row_groups(), self.normalize)

    # ------------------------------------------------------------- penalty
    def penalty_and_grads(self, params: Tensors) -> Tuple[Optional[torch.Tensor], Tensors]:
        """The penalty's value (no graph) and its gradient ``2 w Omega (theta - theta*)``."""
        if not self.importance:
            return None, {}
        total, grads = None, {}
        for n, omega in self.importance.items():
            if n not in params:
                continue
            diff = params[n].detach() - self.anchor[n]
            term = (omega * diff.pow(2)).sum()
            total = term if total is None else total + term
            grads[n] = (2.0 * self.reg_weight) * omega * diff
        return (None if total is None else self.reg_weight * total), grads

    def extra_losses(self, inputs, out, labels, old):
        """``loss_reg`` with its graph, for a direct call of :meth:`loss`; inside
        :meth:`train_step` the penalty's gradient is added after the statistics are taken
        (MiB's order) and its value is logged as ``loss_reg``."""
        if not self.importance or self.__dict__.get('_penalty_by_hand'):
            return {}
        params = self.params()
        penalty = sum((self.importance[n] * (params[n] - self.anchor[n]).pow(2)).sum()
                      for n in self.importance if n in params)
        return dict(loss_reg=self.reg_weight * penalty)

    @contextmanager
    def _penalty_outside_graph(self):
        self.__dict__['_penalty_by_hand'] = True
        try:
            yield
        finally:
            self.__dict__['_penalty_by_hand'] = False

    def train_step(self, data, optim_wrapper):
        """One iteration as MiB's ``train.py:98-139``: backward of the task loss, the
        statistics from those gradients (:meth:`observe_gradients`, at iterations that
        update the weights), the penalty's gradient added, the optimizer step."""
        factor, amp = grad_factor(optim_wrapper)
        with self._penalty_outside_graph(), \
                optim_wrapper.optim_context(self.__dict__.get('_forward_module') or self):
            data = self.preprocess(data, True)
            losses = self._run_forward(data, mode='loss')
        loss, log_vars = self.parse_losses(losses)
        optim_wrapper.backward(optim_wrapper.scale_loss(loss))
        update = optim_wrapper.should_update()
        params = self.params()
        with torch.no_grad():
            penalty, pen_grads = self.penalty_and_grads(params)
            if self.importance_from == 'total_loss':
                self._add_grads(params, pen_grads, factor)
            if update:
                grads = {n: p.grad / factor for n, p in params.items() if p.grad is not None}
                if not amp or all(torch.isfinite(g).all() for g in grads.values()):
                    self.observe_gradients(grads, {n: p.detach() for n, p in params.items()})
            if self.importance_from == 'task_loss':
                self._add_grads(params, pen_grads, factor)
        if penalty is not None:
            value = float(penalty)
            log_vars['loss_reg'] = value
            log_vars['loss'] = float(log_vars['loss']) + value
        if update:
            optim_wrapper.step()
            optim_wrapper.zero_grad()
        return log_vars

    @staticmethod
    def _add_grads(params: Tensors, grads: Tensors, factor: float) -> None:
        for n, g in grads.items():
            p = params[n]
            if p.grad is None:
                p.grad = g * factor
            else:
                p.grad.add_(g, alpha=factor)

    # ------------------------------------------------------ subclass interface
    def begin_step(self) -> None:
        """Reset the running statistics at an experience start."""

    def observe_gradients(self, grads: Tensors, params: Tensors) -> None:
        """Update the statistics from one update's gradients (true scale) and the
        parameters before the update (MiB's ``update()``)."""

    def end_step(self) -> Dict[str, Tensors]:
        """The raw importances at the end of a step, as MiB stores them (averaged over
        ranks)."""
        raise NotImplementedError

    def penalty_weights(self, raw: Dict[str, Tensors]) -> Tensors:
        """The next step's ``Omega`` from :meth:`end_step`'s raw importances."""
        raise NotImplementedError

    # ----------------------------------------------------------- stream hooks
    def before_experience(self, experience):
        resumed = self.prepared_experience == experience.index
        super().before_experience(experience)
        if not resumed:
            self.begin_step()

    def after_experience(self, experience, dataloader):
        super().after_experience(experience, dataloader)
        self.raw_importance = self.end_step()
        self.importance = self.penalty_weights(self.raw_importance)
        self.anchor = {n: p.detach().clone() for n, p in self.params().items()}

    # ------------------------------------------------------------------ state
    def algorithm_state(self):
        state = super().algorithm_state()
        state.update(importance=self.importance, anchor=self.anchor,
                     raw_importance=self.raw_importance,
                     running={k: getattr(self, k) for k in self.running_attrs})
        return state

    def load_algorithm_state(self, state):
        super().load_algorithm_state(state)
        device = next(self.model.parameters()).device
        self.importance = to_device(dict(state.get('importance', {})), device)
        self.anchor = to_device(dict(state.get('anchor', {})), device)
        self.raw_importance = to_device(dict(state.get('raw_importance', {})), device)
        for k, v in state.get('running', {}).items():
            if k in self.running_attrs:
                setattr(self, k, to_device(v, device))
