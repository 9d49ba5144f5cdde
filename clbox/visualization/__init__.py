"""Plots and visualizer backends."""
from .plots import plot_accuracy_curve, plot_accuracy_matrix, plot_confusion_matrix
from .wandb import SafeWandbVisBackend

__all__ = ['plot_accuracy_matrix', 'plot_accuracy_curve', 'plot_confusion_matrix',
           'SafeWandbVisBackend']
from .csv_backend import CSVVisBackend  # noqa: E402

__all__ += ['CSVVisBackend']
