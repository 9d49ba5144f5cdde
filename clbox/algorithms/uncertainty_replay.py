"""Online continual learning with multiple deep metric learning and uncertainty-guided
episodic memory replay (Kurniawan et al., SSLAD 2021 Track 3A, 3rd place).

Facts from ``mrifkikurniawan/sslad`` @v4.3 (``class_strategy.ClassStrategyPlugin``,
``modules.py``, ``loss.py``; ``../shared/specs/sslad-3a.md`` sec. 3), per incoming batch of
10:

1. when the memory holds exactly ``sweep_size`` (500) samples, a new class-balanced replay
   draw of it starts (:class:`~clbox.buffers.uncertainty.ClassBalancedReplay`);
2. the next 6 replayed samples, through the memory transforms (flip, rotation 10, colour
   jitter: ``replay_augments``), are appended: a mixed batch of 16;
3. loss = the head's classification loss on the 16 (plain CE, or focal /
   class-balanced / cost-sensitive: :mod:`clbox.models.losses.class_balanced`)
   ``x w_ce`` + ``w_kl`` x soft-label KL of the replayed rows against their stored logits
   (from ``soft_labels.patience``; weights by ``milestones``) + each metric-learning loss
   on the pooled embedding of the 16 (:class:`~clbox.models.losses.MetricLearningLoss`);
4. after the update (:meth:`observe`): the memory's online selection on the mixed batch
   with the updated model in eval mode, then its sweep when due
   (:class:`~clbox.buffers.uncertainty.UncertaintyMemory`).

With ``head_finetune`` (v4.4, ablation rows 10-11; not in the final method), each
update is followed by one head-only step (SGD on the classifier, lr 1e-4, CE) on 6 memory
samples, one per class in turn (:class:`~clbox.buffers.uncertainty.ClassAwareCycle`, a new
one with every replay draw), through the memory transforms; optionally with its own
multi-step schedule and soft-label KL against the stored logits (``ocl/modules/trainer.py``
``FinetuneHeadTrainer``, ``SoftLabelsLearningTrainer``). It runs before the memory update.

Quirks of the reference reproduced by default, each with its corrected variant:

* ``eval_after_first_update=True``: the samplers put the model in eval mode after each
  update and nothing puts it back until the next task starts, so from the 2nd iteration of
  every task training runs in eval mode (BatchNorm statistics frozen; spec sec. 3.1).
  False restores the training mode after each memory update.
* ``soft_labels.stale_targets=True``: when the replay draw has run out, the last replayed
  batch's stored logits are still used as targets, for the *last rows of the stream
  batch* (spec sec. 5 item 7). False applies the KL only to steps with replay.

The reference's iteration counter (schedules, sweep and soft-label milestones) counts
updates over the whole stream; it is :attr:`iteration` here, checkpointed.

"""
import bisect
from typing import Optional, Sequence

import torch

from clbox.buffers.uncertainty import ClassAwareCycle, ClassBalancedReplay
from clbox.dist import gather_objects, world
from clbox.registry import MODELS
from .base import ContinualAlgorithm

_SOFT_LABEL_DEFAULTS = dict(temperature=0.5, patience=1700, milestones=(1700, 2000, 2100),
                            ce_weights=(1., 1., 1.), kl_weights=(0.5, 0.8, 1.0),
                            stale_targets=True)


@MODELS.register_module()
class UncertaintyReplay(ContinualAlgorithm):
    """The 3rd-place SSLAD 2021 Track 3A method (see the module docstring for the
    per-step flow and the reproduced quirks).

    Args:
        model (dict): The task model: an mmpretrain ``ImageClassifier`` whose neck pools the
            embedding (``GlobalAveragePooling``, the reference's ``global_pool``/``avgpool``).
        buffer (dict): The memory. Defaults to ``UncertaintyMemory()`` (1000 / 500 / 5).
        replay_batch_size (int): Replayed samples per step. Defaults to 6.
        soft_labels (dict, optional): ``temperature`` (0.5), ``patience`` (1700),
            ``milestones`` ([1700, 2000, 2100]), ``ce_weights`` ([1, 1, 1]), ``kl_weights``
            ([0.5, 0.8, 1.0]), ``stale_targets`` (True). Defaults to None (off).
        metric_losses (list[dict]): ``MetricLearningLoss`` configs. Defaults to none.
        eval_after_first_update (bool): See the module docstring. Defaults to True.
        sweep_batch_size (int): Images per forward in a sweep. Defaults to 32.
        head_finetune (dict, optional): ``lr`` (1e-4), ``batch_size`` (6), ``milestones``
            (None: constant; the head steps at which the lr drops), ``gamma`` (0.1),
            ``soft_labels`` (None, or ``temperature`` 0.5, ``patience`` 1700 (counted in
            updates), ``kl_weight`` 1.0). Defaults to None (off).
        **kwargs: ``replay_augments`` (the memory transforms), ``data_preprocessor``, ...
    """

    def __init__(self, model, buffer: Optional[dict] = None, replay_batch_size: int = 6,
                 soft_labels: Optional[dict] = None, metric_losses: Sequence[dict] = (),
                 eval_after_first_update: bool = True, sweep_batch_size: int = 32,
                 head_finetune: Optional[dict] = None, **kwargs):
        buffer = buffer if buffer is not None else dict(type='UncertaintyMemory')
        super().__init__(model, buffer=buffer, **kwargs)
        self.replay_batch_size = int(replay_batch_size)
        self.soft_labels = None
        if soft_labels is not None:
            unknown = set(soft_labels) - set(_SOFT_LABEL_DEFAULTS)
            if unknown:
                raise KeyError(f'UncertaintyReplay.soft_labels: unknown keys {sorted(unknown)}; '
                               f'known: {sorted(_SOFT_LABEL_DEFAULTS)}.')
            cfg = dict(_SOFT_LABEL_DEFAULTS, **soft_labels)
            n = len(cfg['milestones'])
            if not (len(cfg['ce_weights']) == len(cfg['kl_weights']) == n > 0):
                raise ValueError('UncertaintyReplay.soft_labels: milestones, ce_weights and '
                                 'kl_weights must have the same (non-zero) length, got '
                                 f'{n}, {len(cfg["ce_weights"])}, {len(cfg["kl_weights"])}.')
            self.soft_labels = cfg
            from clbox.models.losses import SoftLabelKLDiv
            self.kl_loss = SoftLabelKLDiv(cfg['temperature'])
        self.metric_losses = torch.nn.ModuleList(
            MODELS.build(c) if isinstance(c, dict) else c for c in metric_losses)
        self.eval_after_first_update = bool(eval_after_first_update)
        self.sweep_batch_size = int(sweep_batch_size)
        self.head_finetune = None
        if head_finetune is not None:
            known = dict(lr=1e-4, batch_size=6, milestones=None, gamma=0.1, soft_labels=None)
            unknown = set(head_finetune) - set(known)
            if unknown:
                raise KeyError(f'UncertaintyReplay.head_finetune: unknown keys '
                               f'{sorted(unknown)}; known: {sorted(known)}.')
            self.head_finetune = dict(known, **head_finetune)
            soft = self.head_finetune['soft_labels']
            if soft is not None:
                self.head_finetune['soft_labels'] = dict(
                    dict(temperature=0.5, patience=1700, kl_weight=1.0), **soft)
        self.head_cycle = None
        self.head_steps = 0
        self._head_optimizer = None
        self.iteration = 0
        self.updates_in_experience = 0
        self.replay: Optional[ClassBalancedReplay] = None
        self._stale_logits: Optional[torch.Tensor] = None
        self._incoming = None
        self._mixed = None

    # ---------------------------------------------------------------- training
    def before_experience(self, experience) -> None:
        super().before_experience(experience)
        self.updates_in_experience = 0

    def train_step(self, data, optim_wrapper):
        """Keep the incoming raw images (memory candidates) and start a new replay draw
        when the memory holds exactly ``sweep_size`` samples; then the usual step. With
        ``eval_after_first_update``, every update of a task after its first runs in eval
        mode (also right after a mid-task resume, where the loop sets training mode)."""
        if self.eval_after_first_update and self.updates_in_experience > 0:
            self.model.eval()
        inputs = data['inputs']
        self._incoming = torch.stack(inputs) if isinstance(inputs, (list, tuple)) else inputs
        memory = self.buffer
        if len(memory) == memory.sweep_size:
            self.replay = ClassBalancedReplay(memory.storage, self.replay_batch_size,
                                              memory.generator)
            if self.head_finetune is not None:
                self.head_cycle = ClassAwareCycle(memory.storage,
                                                  self.head_finetune['batch_size'])
        return super().train_step(data, optim_wrapper)

    def loss(self, inputs, data_samples):
        labels = self.labels(data_samples).to(inputs.device)
        raw = self._incoming
        replayed = self.replay.next() if self.replay is not None else None
        if replayed is not None:
            views = replayed['inputs'].to(inputs.device)
            if self.replay_augments is not None:
                views = self.replay_augments(views)
            inputs = torch.cat([inputs, self.preprocess_replay(views, training=False)])
            labels = torch.cat([labels, replayed['labels'].to(labels.device)])
            raw = torch.cat([raw.to(views.device).float(), views.float()]).round().clamp(
                0, 255).to(torch.uint8)
            self._stale_logits = replayed['logits']
        feats = self.model.extract_feat(inputs)
        embedding = feats[-1] if isinstance(feats, (tuple, list)) else feats
        logits = self.model.head(feats)
        losses = {}
        loss_cls = self.classification_loss(logits, labels)
        kl = self._soft_label_loss(logits, replayed)
        if kl is not None:
            w_ce, w_kl = self._soft_label_weights()
            loss_cls = w_ce * loss_cls
            losses['loss_kl'] = w_kl * kl
        losses = dict(loss_cls=loss_cls, **losses)
        for module in self.metric_losses:
            losses[f'loss_{module.name}'] = module(embedding.flatten(1), labels)
        self._mixed = dict(raw=raw.detach().cpu(), inputs=inputs.detach(),
                           labels=labels.detach(), logits=logits.detach())
        return losses

    def _soft_label_weights(self):
        cfg = self.soft_labels
        k = max(0, bisect.bisect_right(list(cfg['milestones']), self.iteration) - 1)
        return float(cfg['ce_weights'][k]), float(cfg['kl_weights'][k])

    def _soft_label_loss(self, logits, replayed) -> Optional[torch.Tensor]:
        """KL of the last rows against stored logits, once ``patience`` updates are done
        and a replay draw has started (the reference's ``softlabels_learning and
        memory_dataloader``)."""
        cfg = self.soft_labels
        if cfg is None or self.iteration < cfg['patience'] or self._stale_logits is None:
            return None
        if replayed is None and not cfg['stale_targets']:
            return None
        target = self._stale_logits.to(logits.device)
        return self.kl_loss(logits[-len(target):], target)

    # ------------------------------------------------------------------ memory
    @torch.no_grad()
    def observe(self, data) -> None:
        """After the update: online selection on the mixed batch (eval mode, updated
        model), the sweep when due, then the iteration count."""
        mixed, memory = self._mixed, self.buffer
        if mixed is None:
            return
        if self.head_cycle is not None:
            with torch.enable_grad():
                self.head_step()
        model = self.model
        was_training = model.training
        model.eval()
        feats = model.extract_feat(mixed['inputs'])
        embedding = (feats[-1] if isinstance(feats, (tuple, list)) else feats).flatten(1)
        logits = model.head(feats)
        keep = memory.select(logits, mixed['labels'])
        if len(keep):
            dev = mixed['labels'].device
            memory.append(mixed['raw'][keep], mixed['labels'][keep.to(dev)],
                          logits[keep.to(logits.device)], embedding[keep.to(logits.device)])
        if memory.sweep_due(self.iteration):
            memory.append(mixed['raw'], mixed['labels'], mixed['logits'])
            memory.sweep(self._predict_raw, self.sweep_batch_size)
        if not self.eval_after_first_update:
            model.train(was_training)
        self.iteration += 1
        self.updates_in_experience += 1
        self._mixed = None

    def head_step(self) -> float:
        """One head-only step on the next class-aware memory batch (v4.4's
        ``FinetuneHeadTrainer.step``), in the model's current mode. The backbone runs
        without gradients (the reference's backward also filled the backbone's, which its
        next iteration cleared: no effect); the head's gradients are cleared afterwards so
        nothing leaks into the next update."""
        cfg, head = self.head_finetune, self.model.head
        if self._head_optimizer is None:
            self._head_optimizer = torch.optim.SGD(head.parameters(), lr=cfg['lr'])
        lr = cfg['lr']
        if cfg['milestones']:
            lr *= cfg['gamma'] ** bisect.bisect_right(list(cfg['milestones']), self.head_steps)
        for group in self._head_optimizer.param_groups:
            group['lr'] = lr
        batch = self.head_cycle.next()
        views = batch['inputs'].to(self.data_preprocessor.device)
        if self.replay_augments is not None:
            views = self.replay_augments(views)
        with torch.no_grad():
            feats = self.model.extract_feat(self.preprocess_replay(views, training=False))
        logits = head(feats)
        labels = batch['labels'].to(logits.device)
        loss = torch.nn.functional.cross_entropy(logits, labels)
        soft = cfg['soft_labels']
        if soft is not None and self.iteration >= soft['patience']:
            from clbox.models.losses import SoftLabelKLDiv
            loss = loss + soft['kl_weight'] * SoftLabelKLDiv(soft['temperature'])(
                logits, batch['logits'].to(logits.device))
        self._head_optimizer.zero_grad()
        loss.backward()
        self._head_optimizer.step()
        self._head_optimizer.zero_grad(set_to_none=True)
        self.head_steps += 1
        return float(loss)

    def _predict_raw(self, images: torch.Tensor):
        """(logits, pooled features) of raw uint8 images, eval mode, no gradient."""
        inputs = self.preprocess_replay(images, training=False)
        feats = self.model.extract_feat(inputs)
        embedding = feats[-1] if isinstance(feats, (tuple, list)) else feats
        return self.model.head(feats), embedding

    # ------------------------------------------------------------------- state
    def _replay_state(self) -> dict:
        """This rank's replay draw, last replayed logits and head fine-tuning sampler
        (each rank has its own)."""
        return dict(replay=self.replay.state_dict() if self.replay is not None else None,
                    stale_logits=self._stale_logits,
                    head_cycle=self.head_cycle.state_dict() if self.head_cycle else None)

    def gather_rank_state(self) -> None:
        """Every rank's memory (the base class) and replay draw, for a checkpoint."""
        super().gather_rank_state()
        if world()[1] > 1:
            self.__dict__['_rank_replays'] = gather_objects(self._replay_state())

    def release_rank_state(self) -> None:
        super().release_rank_state()
        self.__dict__['_rank_replays'] = None

    def algorithm_state(self) -> dict:
        state = super().algorithm_state()
        state.update(iteration=self.iteration,
                     updates_in_experience=self.updates_in_experience,
                     head_steps=self.head_steps)
        ranks = self.__dict__.get('_rank_replays')
        if ranks is not None:
            state['replay_ranks'] = ranks
        else:
            state.update(self._replay_state())
        return state

    def load_algorithm_state(self, state: dict) -> None:
        super().load_algorithm_state(state)   # checks the number of ranks (the memory)
        self.iteration = int(state.get('iteration', 0))
        self.updates_in_experience = int(state.get('updates_in_experience', 0))
        own = state
        if 'replay_ranks' in state:
            own = state['replay_ranks'][world()[0]]
        replay = own.get('replay')
        self.replay = ClassBalancedReplay.from_state(replay) if replay else None
        self._stale_logits = own.get('stale_logits')
        self.head_steps = int(state.get('head_steps', 0))
        cycle = own.get('head_cycle')
        self.head_cycle = ClassAwareCycle.from_state(cycle) if cycle else None
