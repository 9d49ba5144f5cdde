"""EWC for segmentation, with the online Fisher estimate of MiB's benchmark."""
import torch

from clbox.dist import all_reduce_mean_
from clbox.registry import MODELS
from .seg_regularized import ImportanceRegularized, Tensors, check_choice

#: ``fisher_merge`` values: MiB keeps the latest Fisher; 'mean' averages with the past.
FISHER_MERGES = ('latest', 'mean')


@MODELS.register_module()
class SegEWC(ImportanceRegularized):
    """Elastic Weight Consolidation (Kirkpatrick et al., PNAS 2017, arXiv:1612.00796) as
    benchmarked by MiB (Cermelli et al., CVPR 2020; ``utils/regularizer.py:59-123`` of
    github.com/fcdl94/MiB):

    * the diagonal Fisher is a moving average of squared task-loss gradients updated at
      every iteration, ``F <- alpha g^2 + (1 - alpha) F`` (``regularizer.py:96-99``,
      ``alpha`` = ``reg_alpha`` = 0.9, ``argparser.py:160``), from the gradients before the
      penalty's are added (``train.py:124-137``);
    * it starts at one (``regularizer.py:92-94``; the new classes' classifier rows restart
      at one every step, MiB's new classifier tensor) and otherwise carries on from the
      previous step's Fisher (``regularizer.py:86``), so the stored Fisher is the latest
      moving average: no average of old and new Fishers;
    * the next step's penalty weight is that Fisher min-max scaled per tensor
      (``regularizer.py:84``), ``reg_importance`` = 500 (``argparser.py:25-27``).

    Args:
        model (dict): The segmentor.
        reg_weight (float): Penalty weight. Defaults to 500 (MiB's ``--method EWC``).
        alpha (float): Weight of the newest squared gradient. Defaults to 0.9.
        fisher_merge (str): ``'latest'``: the penalty uses the latest Fisher (MiB);
            ``'mean'``: the mean of the previous penalty weights and the new normalised
            Fisher (the earlier clbox variant). Defaults to 'latest'.
        **kwargs: See :class:`ImportanceRegularized`.
    """

    running_attrs = ('fisher',)

    def __init__(self, model, reg_weight: float = 500.0, alpha: float = 0.9,
                 fisher_merge: str = 'latest', **kwargs):
        super().__init__(model, reg_weight=reg_weight, **kwargs)
        if not 0 < alpha <= 1:
            raise ValueError(f'alpha must be in (0, 1] (MiB: reg_alpha=0.9), got {alpha!r}.')
        check_choice('fisher_merge', fisher_merge, FISHER_MERGES,
                     "('latest' is MiB's: the newest Fisher only)")
        self.alpha = alpha
        self.fisher_merge = fisher_merge
        self.fisher: Tensors = {}

    def begin_step(self) -> None:
        """The new classes' classifier rows restart at one (MiB's new classifier tensor,
        ``regularizer.py:92-94``); the rest of the Fisher carries on."""
        for n in self.classifier_names():
            if n in self.fisher:
                self.fisher[n][self.num_old:self.num_active] = 1.0

    def update_fisher(self, grads: Tensors) -> None:
        """``F <- alpha g^2 + (1 - alpha) F`` (``regularizer.py:99``), F starting at one."""
        for n, g in grads.items():
            f = self.fisher.get(n)
            if f is None:
                f = torch.ones_like(g)
            self.fisher[n] = self.alpha * g.pow(2) + (1 - self.alpha) * f

    def observe_gradients(self, grads, params):
        self.update_fisher(grads)

    def end_step(self):
        all_reduce_mean_(self.fisher)  # identical on every rank
        return dict(fisher={n: f.clone() for n, f in self.fisher.items()})

    def penalty_weights(self, raw):
        new = self.normalized(raw['fisher'])
        if self.fisher_merge == 'mean' and self.importance:
            new = self.merge_old(new, self.importance, lambda a, b: 0.5 * (a + b))
        return new
