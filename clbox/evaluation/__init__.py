"""Continual metrics and stream evaluators."""
from .classification import BaseStreamEvaluator, ClsStreamEvaluator
from .continual import (average_accuracy, average_forgetting, backward_transfer, summarize,
                        forward_transfer, stream_metrics)

__all__ = ['BaseStreamEvaluator', 'ClsStreamEvaluator', 'average_accuracy',
           'average_forgetting', 'backward_transfer', 'forward_transfer', 'stream_metrics', 'summarize']
from .clear import clear_metrics  # noqa: E402

__all__ += ['clear_metrics']
from .segmentation import SegStreamEvaluator  # noqa: E402,F401
from .knn import KNNStreamEvaluator  # noqa: E402,F401
from .predictions import PredictionWriter  # noqa: E402,F401
from .sslad_submission import SSLADSubmissionWriter  # noqa: E402,F401
