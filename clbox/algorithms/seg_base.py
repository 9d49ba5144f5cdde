"""The base of continual segmentation methods: an mmseg ``EncoderDecoder`` whose classifier
is preallocated for all classes of the task and *masked* to the classes seen so far.

Why a preallocated, masked classifier rather than one that grows: parameter shapes never
change, so checkpoints of any step load into the same model, the optimizer state is valid
across steps and ``--step N`` can start from step ``N-1``'s file. Only the first
``num_active`` channels take part in losses and predictions; the others get no gradient from
the losses. Channel order = model index order of the scenario (background, step-0 classes,
step-1 classes, ...).
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.dataset import pseudo_collate

from clbox.models.losses.mib import mib_init_new_classes
from clbox.registry import MODELS
from .base import ContinualAlgorithm, frozen_copy


@MODELS.register_module()
class SegContinualAlgorithm(ContinualAlgorithm):
    """Continual semantic segmentation with a masked classifier.

    Args:
        model (dict | nn.Module): An mmseg ``EncoderDecoder`` whose ``decode_head.num_classes``
            covers every class of the task.
        init_new_classes (str): ``'mib'`` (new rows from the background row, MiB Sec. 3.4)
            or ``'random'`` (keep the head's initialisation). Defaults to 'random'.
        ignore_index (int): Ignored label. Defaults to 255.
        lr_per_step (list[float], optional): Learning rate of each experience (the last
            value repeats), set on the optimizer at the start of each experience; the
            protocol uses ``[0.01, 0.001]`` (MiB Sec. 4.1). Defaults to None (the config's).
        init_cfg (dict, optional): mmengine init config. Defaults to None.
    """

    #: The kind of task model this method wraps (the smoke tests pick data by it).
    task = 'segmentation'
    #: Whether :meth:`before_experience` snapshots the model as a teacher.
    needs_teacher = False

    def __init__(self, model, init_new_classes: str = 'random', ignore_index: int = 255,
                 lr_per_step: Optional[List[float]] = None, init_cfg: Optional[dict] = None):
        if isinstance(model, dict):  # mmseg reads test_cfg.mode as an attribute
            model = ConfigDict(model)
        super().__init__(model, init_cfg=init_cfg)
        if init_new_classes not in ('mib', 'random'):
            raise ValueError(f"init_new_classes must be 'mib' or 'random', "
                             f'got {init_new_classes!r}.')
        if not hasattr(self.model, 'decode_head'):
            raise TypeError(f'{type(self).__name__} wraps an mmseg EncoderDecoder; '
                            f'{type(self.model).__name__} has no decode_head.')
        self.init_new = init_new_classes
        self.lr_per_step = list(lr_per_step) if lr_per_step else None
        self.ignore_index = ignore_index
        self.num_classes = int(self.model.decode_head.num_classes)
        self.num_old = 0
        self.num_active = 0
        self.prepared_experience = -1
        self.step_classes: Dict[str, List[int]] = {}
        self.__dict__['teacher'] = None

    # ------------------------------------------------------------- stream hooks
    def before_experience(self, experience) -> None:
        """Activate the experience's classes, initialise them and snapshot the teacher.

        Idempotent per experience: after a resume in the middle of an experience (the state
        says it was prepared) nothing is re-initialised and the checkpointed teacher is kept.
        """
        resumed = self.prepared_experience == experience.index
        super().before_experience(experience)
        self.step_classes[str(experience.index)] = [int(c) for c in experience.classes]
        seen = set(self.seen_classes)
        active = sorted(seen | set(experience.classes))
        if active != list(range(len(active))):
            raise ValueError(f'classes seen so far {active} are not 0..{len(active) - 1}; '
                             'segmentation scenarios must give model indices in step order.')
        if len(active) > self.num_classes:
            raise ValueError(f'{len(active)} classes are active but decode_head.num_classes is '
                             f'{self.num_classes}; set it to the task\'s total class count.')
        if resumed:
            return
        self.num_old, self.num_active = len(seen), len(active)
        if self.num_old:
            if self.needs_teacher:
                self.__dict__['teacher'] = frozen_copy(self.model)
            if self.init_new == 'mib':
                mib_init_new_classes(self.model.decode_head.conv_seg, self.num_old,
                                     self.num_active)
        self.prepared_experience = experience.index

    def configure_optimizer(self, optim_wrapper, experience) -> None:
        """Set ``lr_per_step[experience]`` on every param group (param schedulers such as
        PolyLR then decay it from there)."""
        if not self.lr_per_step:
            return
        lr = self.lr_per_step[min(experience.index, len(self.lr_per_step) - 1)]
        for group in optim_wrapper.optimizer.param_groups:
            group['lr'] = lr

    @property
    def num_new(self) -> int:
        """Classes added by the current experience."""
        return self.num_active - self.num_old

    # ----------------------------------------------------------------- forward
    def segment(self, inputs: torch.Tensor, model=None, num_classes: Optional[int] = None
                ) -> Dict[str, object]:
        """Run a segmentor and return its pieces.

        Args:
            inputs (Tensor): Preprocessed (B, 3, H, W) batch.
            model (nn.Module, optional): Defaults to the trained model.
            num_classes (int, optional): Channels to keep. Defaults to ``num_active``.

        Returns:
            dict: ``logits`` (B, K, H, W) at input size, ``backbone`` (list of stage maps),
            ``decoder`` (pre-logit features or None), ``features`` (backbone + decoder).
        """
        model = self.model if model is None else model
        k = num_classes or self.num_active or self.num_classes
        feats = model.extract_feat(inputs)
        head = model.decode_head
        if hasattr(head, '_forward_feature'):
            decoder = head._forward_feature(feats)
            logits = head.cls_seg(decoder)
        else:
            decoder, logits = None, head(feats)
        logits = F.interpolate(logits[:, :k], size=inputs.shape[-2:], mode='bilinear',
                               align_corners=head.align_corners)
        feats = list(feats)
        return dict(logits=logits, backbone=feats, decoder=decoder,
                    features=feats + ([decoder] if decoder is not None else []))

    def seg_labels(self, data_samples: list, device) -> torch.Tensor:
        """(B, H, W) long labels; raises on ids outside the active classes."""
        labels = torch.stack([s.gt_sem_seg.data.reshape(s.gt_sem_seg.data.shape[-2:])
                              for s in data_samples]).long().to(device)
        bad = (labels >= max(self.num_active, 1)) & (labels != self.ignore_index)
        if bad.any():
            raise ValueError(f'label ids {sorted(labels[bad].unique().tolist())} are outside '
                             f'the {self.num_active} active classes; the scenario must map '
                             'old/future classes to background (RemapSegLabels).')
        return labels

    def teacher_outputs(self, inputs: torch.Tensor) -> Dict[str, object]:
        """The teacher's :meth:`segment` output over the old classes (no gradients)."""
        with torch.no_grad():
            return self.segment(inputs, model=self.teacher, num_classes=self.num_old)

    def loss(self, inputs, data_samples):
        """Cross-entropy over the active classes plus :meth:`extra_losses`."""
        out = self.segment(inputs)
        labels = self.seg_labels(data_samples, inputs.device)
        losses = dict(loss_ce=self.ce_loss(out, labels))
        if self.num_old and self.teacher is not None:
            losses.update(self.extra_losses(inputs, out, labels, self.teacher_outputs(inputs)))
        elif self.num_old:
            losses.update(self.extra_losses(inputs, out, labels, None))
        return losses

    def ce_loss(self, out: dict, labels: torch.Tensor) -> torch.Tensor:
        """The classification term. Defaults to cross-entropy with ignore."""
        return F.cross_entropy(out['logits'], labels, ignore_index=self.ignore_index)

    def extra_losses(self, inputs, out: dict, labels: torch.Tensor,
                     old: Optional[dict]) -> Dict[str, torch.Tensor]:
        """Method terms for steps after the first (distillation, penalties)."""
        return {}

    # --------------------------------------------------------------- inference
    @torch.no_grad()
    def predict_segmentation(self, data: dict) -> Tuple[List[torch.Tensor], List[torch.Tensor],
                                                        List[str]]:
        """Predictions over the active classes of a collated batch, at original size.

        Returns:
            tuple: ``(preds, labels, img_paths)``: lists of (H, W) long tensors and paths.
        """
        data = self.data_preprocessor(data, False)
        k = max(self.num_active, len(self.seen_classes)) or self.num_classes
        samples = self.model.predict(data['inputs'], data['data_samples'])
        preds, gts, paths = [], [], []
        for s in samples:
            preds.append(s.seg_logits.data[:k].argmax(0))
            gts.append(s.gt_sem_seg.data.reshape(s.gt_sem_seg.data.shape[-2:]).long())
            paths.append(s.metainfo.get('img_path', ''))
        return preds, gts, paths

    def iterate_experience(self, experience, batch_size: int = 8, max_batches: int = None):
        """Preprocessed batches of an experience's dataset (for statistics before training)."""
        dataset = experience.dataset
        n = len(dataset)
        for b, start in enumerate(range(0, n, batch_size)):
            if max_batches is not None and b >= max_batches:
                break
            batch = pseudo_collate([dataset[i] for i in range(start, min(start + batch_size, n))])
            yield self.data_preprocessor(batch, True)

    # ------------------------------------------------------------------ state
    def algorithm_state(self) -> dict:
        state = super().algorithm_state()
        state.update(num_old=self.num_old, num_active=self.num_active,
                     prepared_experience=self.prepared_experience,
                     step_classes=dict(self.step_classes))
        if self.teacher is not None:
            state['teacher'] = self.teacher.state_dict()
        return state

    def load_algorithm_state(self, state: dict) -> None:
        super().load_algorithm_state(state)
        self.num_old = int(state.get('num_old', 0))
        self.num_active = int(state.get('num_active', 0))
        self.prepared_experience = int(state.get('prepared_experience', -1))
        self.step_classes = dict(state.get('step_classes', {}))
        if 'teacher' in state:
            teacher = frozen_copy(self.model)
            teacher.load_state_dict(state['teacher'])
            self.__dict__['teacher'] = teacher

