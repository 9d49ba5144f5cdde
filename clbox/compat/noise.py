"""Third-party deprecation noise, filtered once.

Every run printed the same lines that no clbox user can act on:

* mmengine's ``LoggerHook`` and ``CheckpointHook`` build a ``FileClient``, which logs
  '"FileClient" will be deprecated in future...' and '"HardDiskBackend" is the alias of
  "LocalBackend"...' (mmengine 0.10, ``mmengine/fileio/file_client.py``);
* mmcv-lite warns 'Fail to import ``MultiScaleDeformableAttention``' when mmseg imports
  ``mmcv.cnn.bricks.transformer`` (clbox does not use that op).

Only these exact messages are dropped; every other warning still shows.
"""
import logging
import warnings

#: Beginnings of the log messages dropped from mmengine's logger.
LOG_MESSAGES = ('"FileClient" will be deprecated in future',
                '"HardDiskBackend" is the alias of "LocalBackend"')


class ThirdPartyNoiseFilter(logging.Filter):
    """Drops the :data:`LOG_MESSAGES` records."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not message.startswith(LOG_MESSAGES)


def filter_import_warnings() -> None:
    """Ignore mmcv-lite's missing-op warning (a ``UserWarning`` at import)."""
    warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``')


def quiet_logger(logger: logging.Logger) -> logging.Logger:
    """Add :class:`ThirdPartyNoiseFilter` to ``logger`` and its handlers, once."""
    targets = [logger, *logger.handlers]
    for target in targets:
        if not any(isinstance(f, ThirdPartyNoiseFilter) for f in target.filters):
            target.addFilter(ThirdPartyNoiseFilter())
    return logger
