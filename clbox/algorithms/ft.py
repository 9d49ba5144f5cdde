"""Fine-tuning for continual segmentation (the lower bound)."""
from clbox.registry import MODELS
from .seg_base import SegContinualAlgorithm


@MODELS.register_module()
class FT(SegContinualAlgorithm):
    """Fine-tuning: cross-entropy on each step's labels, nothing against forgetting.

    Old classes are labelled background in later steps, so the background absorbs them and
    their IoU collapses (MiB Sec. 1). Training defaults of the protocol (MiB Sec. 4.1, PLOP
    Sec. 4): SGD, lr 0.01 at step 0 and 0.001 later, poly schedule, 30 epochs on VOC and 60 on
    ADE20K, batch 24, 512x512 crops.

    Args: as :class:`~clbox.algorithms.seg_base.SegContinualAlgorithm`.
    """
