"""AR1* with latent replay."""
from typing import Dict, List, Optional

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from clbox.dist import all_reduce_mean_, all_reduce_sum, world
from clbox.models.backbones.split import SplitBackbone
from clbox.models.heads.cwr_star import CWRStarHead
from clbox.models.layers.batch_renorm import set_brn_params
from clbox.registry import MODELS
from clbox.scenarios.base import dataset_labels
from .base import ContinualAlgorithm

_NORMS = (_BatchNorm, nn.GroupNorm, nn.LayerNorm)


@MODELS.register_module()
class AR1(ContinualAlgorithm):
    """AR1* with latent replay (Pellegrini, Graffieti, Lomonaco & Maltoni, "Latent Replay
    for Real-Time Continual Learning", IROS 2020, arXiv:1912.01100).

    AR1* (Maltoni & Lomonaco, Neural Networks 2019, arXiv:1806.08568) is CWR* on the head
    (:class:`~clbox.models.heads.CWRStarHead`) plus, optionally, an SI-style penalty on the
    layers below it. Latent replay splits the backbone after ``latent_layer``: new images
    go through the lower part, replayed activations (stored at that layer) join them
    there, and only the upper part, neck and head see the union. The lower part is frozen
    (weights and BRN statistics: it runs in eval mode, without gradients), so stored
    activations stay valid: from the first experience on by default, as the PyTorch
    reference (``freeze_below_latent_from_start``), or from the second one.

    Per experience: the memory commits the previous experience's samples; the counts
    ``cur_j`` (new samples plus memory, as the reference counts them) select the classes
    whose CWR* training weights are reset; after the first experience, Batch
    Renormalization switches to ``inc_brn_cfg`` and the learning rate is multiplied by
    ``inc_lr_mult``. After training, CWR* consolidates and (with ``si_lambda > 0``) the SI
    importances are updated. The ``observe`` pass then computes the activations of the
    experience with the (now final) lower part and offers them to the memory.

    The defaults are the reference's (``vlomonaco/ar1-pytorch``; ``params.cfg`` section
    ``[DEFAULT]``, ``ar1star_lat_replay.py``); with the reference's optimizer (one SGD at
    lr 0.001 for every layer, kept from the second experience on: ``optim_wrapper`` with
    ``lr=0.001`` and no head multiplier, ``train_cfg.reset_optimizer=False``) they give
    its run, see ``configs/ar1/README.md``. The Caffe-era AR1* setting (lower layers
    trained during the first experience, lr x0.3 after it, SI penalty with lambda 1) is
    ``freeze_below_latent_from_start=False, inc_lr_mult=0.3, si_lambda=1.0``.

    The incremental phase starts from a fresh optimizer state: the reference creates a new
    SGD at its second batch (``ar1star_lat_replay.py:126-132``), so when the loop keeps one
    optimizer across experiences (``reset_optimizer=False``) the momentum of the first
    experience is dropped when the second one starts and kept from then on.

    SI-style penalty (the AR1* reference's variant of Zenke et al. 2017): along the
    trajectory of experience ``i``, ``w += grad * delta_theta`` per step; at its end
    ``Omega += c * w / ((theta_end - theta_start)^2 + eps)``, ``F = clip(-Omega, 0,
    max_f)`` and the anchor ``theta* = theta_end``; the loss adds
    ``si_lambda / 2 * sum F (theta - theta*)^2`` over the upper backbone and neck,
    excluding norm layers (free in the reference) and the head (CWR*). The PyTorch
    reference run leaves it off (``reg_lambda = 0``); its code has ``eps=1e-7`` and
    ``max_f=0.001`` (``utils.py:436``, ``ar1star_lat_replay.py:259``), but calls it with
    ``c=1`` and clips ``F`` from above only (``ar1star_lat_replay.py:259``,
    ``utils.py:444``); ``c=0.0015`` and the clip at 0 are the Caffe AR1* values.

    Args:
        model (dict): An ``ImageClassifier`` whose head is a ``CWRStarHead``.
        latent_layer (str, optional): Layer whose output is replayed (``'conv5_4.dw'``
            for MobileNetV1: the reference's ``latent_layer_num = 19``, ``params.cfg:37``,
            the 20th layer of pytorchcv's ``mobilenet_w1``, ``models/mobilenet.py:59-73``;
            ``'layer3'`` for a ResNet). None or ``'input'`` replays images at the input
            (nothing is frozen).
        buffer (dict): Memory config. Defaults to a 1,500-slot ``LatentReplayBuffer``
            (``rm_sz = 1500``, ``params.cfg:33``).
        replay_batch_size (int, optional): Replayed samples per step. Defaults to None:
            ``round(B * len(memory) / len(experience))`` for a new batch of ``B``, so the
            memory is covered once per epoch, as in the reference
            (``ar1star_lat_replay.py:176-179, 203``).
        mb_size (int): Total mini-batch of the reference (``mb_size = 128``,
            ``params.cfg:25``), over all processes; used by :meth:`train_batch_size`.
            Defaults to 128.
        freeze_lower (bool): Freeze the part below the latent layer. Defaults to True.
        freeze_below_latent_from_start (bool): Freeze it (and put it in eval mode) from
            the first experience on, as the reference (``freeze_up_to`` before every
            batch, batch 0 included, ``ar1star_lat_replay.py:123-124``, up to
            ``freeze_below_layer = "lat_features.19.bn.beta"``, ``params.cfg:36``; eval
            mode, ``ar1star_lat_replay.py:148-149``): right for a pretrained backbone.
            False trains the lower part during the first experience and freezes it from
            the second (the Caffe-era AR1*; needed for a backbone trained from scratch).
            Has no effect with ``freeze_lower=False``. Defaults to True.
        inc_lr_mult (float): Learning-rate factor of every param group after the first
            experience. Defaults to 0.05: the reference's ``inc_lr / init_lr = 5e-5 /
            0.001`` (``params.cfg:23-24``, ``ar1star_lat_replay.py:130-132``).
        inc_brn_cfg (dict, optional): ``set_brn_params`` arguments applied after the
            first experience. Defaults to the reference's
            ``dict(momentum=5e-5, r_max=1.25, d_max=0.5, r_d_max_inc_step=0)``
            (``ar1star_lat_replay.py:126-129``; ``params.cfg:29-31``).
        si_lambda (float): Weight of the SI-style penalty; 0 disables it. Defaults to 0:
            the reference's ``reg_lambda = 0`` (``params.cfg:38``, used at
            ``ar1star_lat_replay.py:103, 229-230``).
        si_c (float): Defaults to 0.0015 (Caffe AR1*). si_eps (float): Defaults to 1e-7.
        si_max_f (float): Defaults to 0.001.

    Raises:
        TypeError: The head is not a ``CWRStarHead``.
        ValueError: A key has a value that cannot work (named in the message).
    """

    def __init__(self, model, latent_layer: Optional[str] = 'conv5_4.dw',
                 buffer: Optional[dict] = None, replay_batch_size: Optional[int] = None,
                 mb_size: int = 128, freeze_lower: bool = True,
                 freeze_below_latent_from_start: bool = True, inc_lr_mult: float = 0.05,
                 inc_brn_cfg: Optional[dict] = None, si_lambda: float = 0.0,
                 si_c: float = 0.0015, si_eps: float = 1e-7, si_max_f: float = 0.001,
                 data_preprocessor=None, init_cfg=None):
        _check_options(replay_batch_size=replay_batch_size, mb_size=mb_size,
                       freeze_lower=freeze_lower,
                       freeze_below_latent_from_start=freeze_below_latent_from_start,
                       inc_lr_mult=inc_lr_mult, si_lambda=si_lambda)
        buffer = buffer if buffer is not None else dict(type='LatentReplayBuffer', size=1500)
        super().__init__(model, buffer=buffer, data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        head = getattr(self.model, 'head', None)
        if not isinstance(head, CWRStarHead):
            raise TypeError(f"AR1 needs head=dict(type='CWRStarHead', ...), got "
                            f'{type(head).__name__}.')
        self.split = SplitBackbone(self.model.backbone, latent_layer)
        self.replay_batch_size = replay_batch_size
        self.mb_size = mb_size
        self.freeze_lower = freeze_lower and bool(self.split.lower_steps)
        self.freeze_from_start = freeze_below_latent_from_start and self.freeze_lower
        self.inc_lr_mult = inc_lr_mult
        self.inc_brn_cfg = inc_brn_cfg if inc_brn_cfg is not None else dict(
            momentum=5e-5, r_max=1.25, d_max=0.5, r_d_max_inc_step=0.0)
        self.si_lambda, self.si_c, self.si_eps, self.si_max_f = si_lambda, si_c, si_eps, si_max_f
        self.experiences_trained = 0
        self.lower_frozen = False
        self.cur_counts = torch.zeros(head.num_classes)
        self._experience_size = 1
        self._si_names = self._si_parameter_names() if si_lambda > 0 else []
        self.si: Dict[str, Dict[str, torch.Tensor]] = {}
        self._grads: Dict[str, torch.Tensor] = {}
        params = dict(self.named_parameters())
        for name in self._si_names:
            params[name].register_post_accumulate_grad_hook(self._grad_hook(name))

    # ------------------------------------------------------------ structure
    def _si_parameter_names(self) -> List[str]:
        """Upper backbone and neck parameters, norm layers excluded."""
        modules = self.split.upper_modules()
        if getattr(self.model, 'neck', None) is not None:
            modules.append(self.model.neck)
        ids = {id(p) for m in modules for sub in m.modules() if not isinstance(sub, _NORMS)
               for p in sub.parameters(recurse=False)}
        return [n for n, p in self.named_parameters() if id(p) in ids]

    def _grad_hook(self, name):
        def hook(param):
            if self.training and param.grad is not None:
                self._grads[name] = param.grad.detach().clone()
        return hook

    def encode(self, inputs: torch.Tensor) -> torch.Tensor:
        """Preprocessed images to latent activations (frozen part: no gradients)."""
        if self.lower_frozen:
            with torch.no_grad():
                return self.split.lower(inputs)
        return self.split.lower(inputs)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latent activations to class scores."""
        feats = self.split.upper(latents)
        if getattr(self.model, 'neck', None) is not None:
            feats = self.model.neck(feats)
        return self.model.head(feats)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.lower_frozen:
            for m in self.split.lower_modules():
                m.eval()
        return self

    def _freeze(self) -> None:
        """Lower part: eval mode (BRN statistics fixed), no gradients, none left over."""
        for m in self.split.lower_modules():
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)
                p.grad = None
        self.lower_frozen = True

    # ---------------------------------------------------------- stream hooks
    def train_batch_size(self, experience, default: int) -> int:
        """New samples per step so that new + replayed make ``mb_size``, with the memory
        covered once per epoch: ``n // ((n + rm_sz) // mb_size)``
        (``ar1star_lat_replay.py:177``), per process with this rank's share of the
        experience, of the memory and of ``mb_size``. ``default`` when the memory is
        empty (the first experience: ``mb_size`` new samples, ``:154-155``)."""
        if self.buffer is None or len(self.buffer) == 0:
            return default
        world_size = world()[1]
        n = -(-len(experience.dataset) // world_size)  # this rank's share
        mb_size = max(self.mb_size // world_size, 1)
        return max(1, n // max((n + self.buffer.size) // mb_size, 1))

    def before_experience(self, experience) -> None:
        super().before_experience(experience)
        self.buffer.commit()
        if self.freeze_lower and not self.lower_frozen and (
                self.freeze_from_start or self.experiences_trained > 0):
            self._freeze()
        if self.experiences_trained > 0:
            trainable = self.split.upper_modules() if self.lower_frozen else [self.model]
            for module in trainable + [m for m in (getattr(self.model, 'neck', None),) if m]:
                set_brn_params(module, **self.inc_brn_cfg)
        labels = torch.as_tensor(dataset_labels(experience.dataset), dtype=torch.long)
        # this rank's share of the experience (each rank trains on 1 / world of it)
        self._experience_size = max(-(-len(labels) // world()[1]), 1)
        head = self.model.head
        stored = self.buffer.get_all()['labels'] if len(self.buffer) else labels[:0]
        # CWR*'s class counts: the whole experience plus every rank's memory share
        self.cur_counts = (torch.bincount(labels, minlength=head.num_classes) + all_reduce_sum(
            torch.bincount(stored, minlength=head.num_classes))).float()
        head.reset_training_weights(self.cur_counts.nonzero().squeeze(1))
        self._si_start()

    def configure_optimizer(self, optim_wrapper, experience) -> None:
        """After the first experience, train at ``inc_lr_mult`` times the configured
        learning rate (the reference's incremental rate, ``ar1star_lat_replay.py:130-132``).
        The configured rate is kept in the param group (``base_lr``) so a reused optimizer
        is not scaled twice. When the second experience starts, the optimizer state
        (momentum) of the first is dropped: the reference builds a new SGD there and keeps
        it (``:126-132``); a rebuilt optimizer has no state anyway."""
        if self.experiences_trained == 1:
            optim_wrapper.optimizer.state.clear()
        if self.experiences_trained > 0 and self.inc_lr_mult != 1:
            for group in optim_wrapper.optimizer.param_groups:
                group['lr'] = group.setdefault('base_lr', group['lr']) * self.inc_lr_mult
                if 'initial_lr' in group:
                    group['initial_lr'] = group['lr']

    def loss(self, inputs, data_samples):
        self._si_track()
        labels = self.labels(data_samples).to(inputs.device)
        latents = self.encode(inputs)
        n_replay = self.replay_batch_size if self.replay_batch_size is not None else round(
            len(labels) * len(self.buffer) / self._experience_size)
        replay = self.buffer.sample(n_replay)
        if replay is not None:
            stored = replay['inputs'].to(inputs.device)
            if not self.split.lower_steps:  # replay at the input: raw images
                stored = self.preprocess_replay(stored)
            latents = torch.cat([latents, stored.to(latents.dtype)])
            labels = torch.cat([labels, replay['labels'].to(labels.device)])
        losses = dict(loss_cls=self.classification_loss(self.decode(latents), labels))
        if self.si_lambda > 0 and 'importance' in self.si:
            params = dict(self.named_parameters())
            penalty = sum((self.si['importance'][n] * (params[n] - self.si['anchor'][n])
                           .pow(2)).sum() for n in self._si_names)
            losses['loss_si'] = 0.5 * self.si_lambda * penalty
        return losses

    @torch.no_grad()
    def observe(self, data) -> None:
        """Store the activations of new samples at the latent layer (images when
        replaying at the input)."""
        if not self.split.lower_steps:
            inputs = data['inputs']
            inputs = torch.stack(inputs) if isinstance(inputs, (list, tuple)) else inputs
            self.buffer.add(inputs, self.labels(data['data_samples']), self.experience_index)
            return
        data = self.preprocess(data, False)
        modules = self.split.lower_modules()
        modes = [m.training for m in modules]
        for m in modules:
            m.eval()
        latents = self.split.lower(data['inputs'])
        for m, mode in zip(modules, modes):
            m.train(mode)
        self.buffer.add(latents, self.labels(data['data_samples']), self.experience_index)

    def after_experience(self, experience, dataloader) -> None:
        super().after_experience(experience, dataloader)
        classes = self.cur_counts.nonzero().squeeze(1)
        self.model.head.consolidate(classes, self.cur_counts[classes])
        self._si_consolidate()
        self.experiences_trained += 1

    # ------------------------------------------------------------------- SI
    def _theta(self) -> Dict[str, torch.Tensor]:
        params = dict(self.named_parameters())
        return {n: params[n].detach().clone() for n in self._si_names}

    def _si_start(self) -> None:
        if not self._si_names:
            return
        theta = self._theta()
        self.si['start'] = theta
        self.si['prev'] = {n: t.clone() for n, t in theta.items()}
        self.si['path'] = {n: torch.zeros_like(t) for n, t in theta.items()}
        self._grads.clear()

    @torch.no_grad()
    def _si_track(self) -> None:
        """Add ``grad * delta_theta`` of the last optimizer step to the path integral."""
        if not self._grads or 'prev' not in self.si:
            return
        params = dict(self.named_parameters())
        for n, g in self._grads.items():
            self.si['path'][n] += g * (params[n].detach() - self.si['prev'][n])
            self.si['prev'][n].copy_(params[n].detach())
        self._grads.clear()

    @torch.no_grad()
    def _si_consolidate(self) -> None:
        if not self._si_names or 'start' not in self.si:
            return
        self._si_track()
        theta = self._theta()
        omega = self.si.get('omega', {n: torch.zeros_like(t) for n, t in theta.items()})
        for n, t in theta.items():
            omega[n] += self.si_c * self.si['path'][n] / (
                (t - self.si['start'][n]).pow(2) + self.si_eps)
        all_reduce_mean_(omega)  # identical importances on every rank
        self.si = dict(omega=omega, anchor=theta,
                       importance={n: (-o).clamp(0, self.si_max_f) for n, o in omega.items()})

    # ----------------------------------------------------------------- state
    def algorithm_state(self) -> dict:
        state = super().algorithm_state()
        state.update(experiences_trained=self.experiences_trained,
                     lower_frozen=self.lower_frozen, cur_counts=self.cur_counts.clone(),
                     experience_size=self._experience_size, si=self.si)
        return state

    def load_algorithm_state(self, state: dict) -> None:
        super().load_algorithm_state(state)
        self.experiences_trained = int(state.get('experiences_trained', 0))
        self.cur_counts = state.get('cur_counts', self.cur_counts).clone()
        self._experience_size = int(state.get('experience_size', 1))
        self.si = state.get('si', {})
        if state.get('lower_frozen', False) and not self.lower_frozen:
            self._freeze()


def _check_options(replay_batch_size, mb_size, freeze_lower, freeze_below_latent_from_start,
                   inc_lr_mult, si_lambda) -> None:
    """Refuse values that cannot work, naming the key and a valid value.

    Raises:
        ValueError: For the first bad key.
    """
    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    if replay_batch_size is not None and not (is_int(replay_batch_size)
                                              and replay_batch_size >= 0):
        raise ValueError(f'AR1: replay_batch_size must be None (cover the memory once per '
                         f'epoch, the reference) or an int >= 0, got {replay_batch_size!r}.')
    if not (is_int(mb_size) and mb_size >= 1):
        raise ValueError(f'AR1: mb_size must be an int >= 1 (new + replayed samples per '
                         f'step; the reference uses 128), got {mb_size!r}.')
    for key, value in (('freeze_lower', freeze_lower),
                       ('freeze_below_latent_from_start', freeze_below_latent_from_start)):
        if not isinstance(value, bool):
            raise ValueError(f'AR1: {key} must be True or False, got {value!r}.')
    for key, value in (('inc_lr_mult', inc_lr_mult), ('si_lambda', si_lambda)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f'AR1: {key} must be a number >= 0, got {value!r} (the '
                             f'reference: inc_lr_mult=0.05, si_lambda=0).')
