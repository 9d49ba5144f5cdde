"""A W&B backend that is offline unless configured and never crashes for lack of network."""
import os
import warnings

from mmengine.visualization import WandbVisBackend

from clbox.registry import VISBACKENDS

#: The x-axis of the continual metrics in W&B: experiences done.
EXPERIENCE_AXIS = 'continual/experience'


class _Null:
    """Absorbs any attribute access and call (a disabled W&B run)."""

    def __getattr__(self, name):
        return self

    def __call__(self, *args, **kwargs):
        return self


@VISBACKENDS.register_module()
class SafeWandbVisBackend(WandbVisBackend):
    """mmengine's W&B backend, offline by default and failure-tolerant.

    W&B runs ``mode='offline'`` unless the user chose a mode (``init_kwargs.mode`` or the
    ``WANDB_MODE`` variable) or logged in (``WANDB_API_KEY``). If W&B cannot start
    (no network, bad key, not installed), a warning is printed and logging to W&B is
    skipped; training goes on.

    The continual metrics (``continual/*``, logged once per experience) are plotted against
    the number of experiences done, not W&B's own step: each such log carries
    ``continual/experience`` and W&B is told (``define_metric``) to use it as their x-axis.

    Args: as :class:`mmengine.visualization.WandbVisBackend`.
    """

    def _init_env(self):
        kwargs = dict(self._init_kwargs or {})
        if ('mode' not in kwargs and 'WANDB_MODE' not in os.environ
                and 'WANDB_API_KEY' not in os.environ):
            kwargs['mode'] = 'offline'
        self._init_kwargs = kwargs
        try:
            super()._init_env()
        except Exception as e:  # noqa: BLE001  (W&B must never stop training)
            warnings.warn(f'W&B logging disabled: it failed to start ({e!r}). Results are '
                          'still written to the work dir.')
            self._wandb = _Null()
            return
        define = getattr(self._wandb, 'define_metric', None)
        if define is not None:
            define(EXPERIENCE_AXIS)
            define('continual/*', step_metric=EXPERIENCE_AXIS)

    def add_scalars(self, scalar_dict: dict, step: int = 0, file_path=None, **kwargs):
        """mmengine's, with ``continual/experience = step`` added to continual metrics."""
        if any(str(k).startswith('continual/') for k in scalar_dict):
            scalar_dict = dict(scalar_dict, **{EXPERIENCE_AXIS: step})
        super().add_scalars(scalar_dict, step=step, file_path=file_path, **kwargs)
