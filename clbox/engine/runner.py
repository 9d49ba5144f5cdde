"""The continual runner: mmengine's Runner plus a scenario and continual checkpoints."""
import os
import os.path as osp
import re
from collections import OrderedDict
from typing import Optional

from mmengine.config import Config
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint, _load_checkpoint_to_model

from clbox.registry import RUNNERS, SCENARIOS
from .utils import check_writable, unwrap


class IncompatibleCheckpointError(ValueError):
    """A checkpoint whose tensors do not fit the model built from the config."""


@RUNNERS.register_module()
class ContinualRunner(Runner):
    """mmengine's :class:`~mmengine.runner.Runner` for streams of experiences.

    Adds, and changes, only what continual training needs:

    * :attr:`scenario`, built once from the config's top-level ``scenario`` dict;
    * checkpoints carry the loop position, the accuracy matrix so far and RNG states
      (``meta['clbox']``) besides mmengine's model/optimizer/scheduler/message-hub state,
      and are written atomically (temporary file + rename);
    * ``load_from`` without ``resume`` loads weights only (no method state such as buffers
      or teachers), accepts checkpoints of the bare task model, and refuses a checkpoint
      whose tensor shapes do not fit the config with an error naming the first mismatch.
    """

    def __init__(self, *args, scenario=None, **kwargs):
        work_dir = kwargs.get('work_dir')
        if work_dir is not None:
            check_writable(work_dir)
        self._scenario = scenario
        self._weights_only_load = False
        self._loaded_meta: Optional[dict] = None
        super().__init__(*args, **kwargs)

    @classmethod
    def from_cfg(cls, cfg: Config) -> 'ContinualRunner':
        """Build from a config; ``scenario`` is read lazily from ``cfg.scenario``."""
        if cfg.get('work_dir') is not None:
            check_writable(cfg['work_dir'])
        return super().from_cfg(cfg)

    @property
    def scenario(self):
        """The scenario (built on first access from ``cfg.scenario``)."""
        if self._scenario is None or isinstance(self._scenario, dict):
            cfg = self._scenario or self.cfg.get('scenario')
            if cfg is None:
                raise KeyError('the config has no `scenario`: add e.g. scenario=dict('
                               "type='ClassIncremental', train=..., test=..., "
                               'num_experiences=5).')
            self._scenario = SCENARIOS.build(cfg)
        return self._scenario

    # ------------------------------------------------------------ train/test
    def train(self):
        self._weights_only_load = not self._resume
        try:
            return super().train()
        finally:
            self._weights_only_load = False

    # ----------------------------------------------------------- checkpoints
    def save_checkpoint(self, out_dir: str, filename: str, meta: Optional[dict] = None,
                        **kwargs):
        """mmengine's checkpoint plus ``meta['clbox']``, written atomically."""
        meta = dict(meta or {})
        loop = self.train_loop
        if hasattr(loop, 'state_dict'):
            meta['clbox'] = loop.state_dict()
            meta.setdefault('epoch', loop.epoch)
            meta.setdefault('iter', loop.iter)
        tmp_name = f'.{filename}.tmp'
        try:
            super().save_checkpoint(out_dir, tmp_name, meta=meta, **kwargs)
            os.replace(osp.join(out_dir, tmp_name), osp.join(out_dir, filename))
        finally:
            if osp.exists(osp.join(out_dir, tmp_name)):
                os.remove(osp.join(out_dir, tmp_name))

    def resume(self, filename: str, *args, **kwargs) -> None:
        """mmengine's resume, then the loop position, metrics and RNG states."""
        super().resume(filename, *args, **kwargs)
        state = (self._loaded_meta or {}).get('clbox')
        if state is None:
            raise IncompatibleCheckpointError(
                f'{filename} has no continual loop state (meta["clbox"]); it was not written '
                'by a clbox train loop. Use load_from (weights only) instead of --resume.')
        self.train_loop.load_state_dict(state)
        self.logger.info(f'resumed at experience {state["next_experience"]}, epoch '
                         f'{state["epoch_in_exp"]} of it')

    def load_checkpoint(self, filename: str, map_location='cpu', strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]):
        """Load a checkpoint into the model after checking that it fits."""
        if not (osp.isfile(filename) or '://' in filename):
            raise FileNotFoundError(f'checkpoint "{filename}" does not exist; check load_from '
                                    '/ --resume / the CHECKPOINT argument.')
        checkpoint = _load_checkpoint(filename, map_location=map_location)
        self._loaded_meta = checkpoint.get('meta', {}) if isinstance(checkpoint, dict) else {}
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = unwrap(self.model)
        state = checkpoint.get('state_dict', checkpoint)
        for pattern, repl in revise_keys:
            state = OrderedDict((re.sub(pattern, repl, k), v) for k, v in state.items())
        state = self._fit_state_dict(model, state, filename)
        _load_checkpoint_to_model(model, dict(state_dict=state), strict, revise_keys=[])
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    def _fit_state_dict(self, model, state: OrderedDict, filename: str) -> OrderedDict:
        """Add a missing ``model.`` prefix, drop method state for weights-only loads, and
        raise :class:`IncompatibleCheckpointError` on shape mismatches."""
        own = model.state_dict()
        if not any(k in own for k in state) and any('model.' + k in own for k in state):
            state = OrderedDict(('model.' + k, v) for k, v in state.items())
        if self._weights_only_load:
            state = OrderedDict((k, v) for k, v in state.items()
                                if not k.endswith('_extra_state'))
        common = [k for k in state if k in own and hasattr(own[k], 'shape')]
        if not common and state:
            raise IncompatibleCheckpointError(
                f'no tensor of "{filename}" matches this model (checkpoint keys look like '
                f'{list(state)[:3]}, model keys like {list(own)[:3]}); it comes from another '
                'model. Check load_from / the checkpoint path.')
        for key in common:
            if tuple(state[key].shape) != tuple(own[key].shape):
                raise IncompatibleCheckpointError(
                    f'"{filename}" does not fit this config: {key} is '
                    f'{tuple(state[key].shape)} in the checkpoint but {tuple(own[key].shape)} '
                    'in the model built from the config. Use the config the checkpoint was '
                    'trained with (e.g. the same num_classes), or load only matching parts '
                    "with init_cfg=dict(type='Pretrained', prefix=...).")
        return state
