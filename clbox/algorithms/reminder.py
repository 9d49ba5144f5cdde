"""REMINDER: PLOP plus class-similarity weighted knowledge distillation."""
import torch

from clbox.models.losses.reminder import class_prototypes, similarity_weights
from clbox.registry import MODELS
from .plop import PLOP


@MODELS.register_module()
class REMINDER(PLOP):
    """REMINDER (Phan et al., CVPR 2022, "Class Similarity Weighted Knowledge Distillation
    for Continual Semantic Segmentation").

    PLOP's losses plus CSW-KD (:class:`CSWKDLoss`): each old class's distillation term is
    weighted by how similar it is to the pixel's current class, measured by the cosine
    similarity of class prototypes (mean features of the backbone's last stage, as REMINDER's
    code uses ``features['body']``). Old prototypes are computed after each step on that
    step's training data with the trained model; current prototypes come from each batch.

    Args:
        model (dict): The segmentor.
        csw_kd (dict): Defaults to ``dict(type='CSWKDLoss', loss_weight=10.0)`` (REMINDER's
            scripts do not set the weight explicitly; 10 is MiB's distillation weight; tune).
        threshold_scale (float): Similarity weights below ``threshold_scale / K_old`` are
            dropped. Defaults to 2.0 (REMINDER's code).
        prototype_batches (int, optional): Batches used for the prototypes after a step.
            Defaults to None (all).
        **kwargs: See :class:`PLOP`.
    """

    def __init__(self, model, csw_kd: dict = None, threshold_scale: float = 2.0,
                 prototype_batches=None, **kwargs):
        super().__init__(model, **kwargs)
        self.csw_kd = MODELS.build(csw_kd or dict(type='CSWKDLoss', loss_weight=10.0))
        self.threshold_scale = threshold_scale
        self.prototype_batches = prototype_batches
        self.prototypes = torch.zeros(0)

    def extra_losses(self, inputs, out, labels, old):
        if self.prototypes.shape[0] < self.num_old:
            return {}
        with torch.no_grad():
            sums, counts = class_prototypes(out['backbone'][-1].detach(), labels,
                                            self.num_active, self.ignore_index)
            current = sums / counts.clamp_min(1)[:, None]
            weights = similarity_weights(current, self.prototypes[:self.num_old].to(current),
                                         self.threshold_scale)
        return dict(loss_cswkd=self.csw_kd(out['logits'], old['logits'], labels, weights))

    @torch.no_grad()
    def after_experience(self, experience, dataloader):
        super().after_experience(experience, dataloader)
        was_training = self.training
        self.eval()
        sums = counts = None
        for b, data in enumerate(dataloader):
            if self.prototype_batches is not None and b >= self.prototype_batches:
                break
            data = self.data_preprocessor(data, False)
            labels = self.seg_labels(data['data_samples'], data['inputs'].device)
            feats = self.model.extract_feat(data['inputs'])[-1]
            s, c = class_prototypes(feats, labels, self.num_classes, self.ignore_index)
            sums, counts = (s, c) if sums is None else (sums + s, counts + c)
        self.train(was_training)
        if sums is None:
            return
        protos = self.prototypes
        if protos.shape != sums.shape:
            protos = torch.zeros_like(sums).cpu()
        fresh = counts > 0
        protos[fresh.cpu()] = (sums[fresh] / counts[fresh, None]).cpu()
        self.prototypes = protos

    def algorithm_state(self):
        state = super().algorithm_state()
        state['prototypes'] = self.prototypes
        return state

    def load_algorithm_state(self, state):
        super().load_algorithm_state(state)
        self.prototypes = torch.as_tensor(state.get('prototypes', torch.zeros(0)))
