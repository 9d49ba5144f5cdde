"""The continual runner: mmengine's Runner plus a scenario and continual checkpoints."""
import copy
import functools
import glob
import os
import os.path as osp
import re
import sys
from collections import OrderedDict
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.device import get_device
from mmengine.dist import broadcast, is_distributed
from mmengine.model import revert_sync_batchnorm
from mmengine.runner import Runner

from clbox import dist
from clbox.registry import MODEL_WRAPPERS, RUNNERS, SCENARIOS
from .checkpoint_io import atomic_replace, read_checkpoint
from .utils import check_writable, unwrap
from .workdir import WorkDirLock, archive_previous_run, remove_stale_temporaries


@functools.lru_cache(maxsize=None)
def _buffer_sync_key() -> str:
    """DDP's switch for the buffer broadcast in forward (renamed in torch 2.14)."""
    import inspect
    from torch.nn.parallel import DistributedDataParallel
    params = inspect.signature(DistributedDataParallel.__init__).parameters
    return 'forward_sync_buffers' if 'forward_sync_buffers' in params else 'broadcast_buffers'


_STAGE = re.compile(r'(before|after)_(train|val|test)_(iter|epoch)$')


def _hook_acts(hook, fn_name: str) -> bool:
    """Whether calling ``hook.<fn_name>`` can do anything: it exists, and is not
    mmengine's ``Hook`` no-op (whose iteration and epoch stages forward to ``_before_iter``
    / ``_after_iter`` / ``_before_epoch`` / ``_after_epoch``, which a hook may override
    instead)."""
    from mmengine.hooks import Hook
    if not hasattr(hook, fn_name):
        return False
    if not isinstance(hook, Hook) or fn_name in vars(hook) \
            or getattr(type(hook), fn_name) is not getattr(Hook, fn_name, None):
        return True
    stage = _STAGE.match(fn_name)
    if stage is None:
        return False  # Hook's own no-op
    inner = f'_{stage.group(1)}_{stage.group(3)}'
    return getattr(type(hook), inner) is not getattr(Hook, inner) or inner in vars(hook)


class IncompatibleCheckpointError(ValueError):
    """A checkpoint that does not fit the model (or the run) built from the config."""


@RUNNERS.register_module()
class ContinualRunner(Runner):
    """mmengine's :class:`~mmengine.runner.Runner` for streams of experiences.

    Adds, and changes, only what continual training needs:

    * :attr:`scenario`, built once from the config's top-level ``scenario`` dict;
    * checkpoints carry the loop position, the accuracy matrix so far and RNG states
      (``meta['clbox']``) besides mmengine's model/optimizer/scheduler/message-hub state,
      and are written atomically (temporary file + rename);
    * one run per work dir (:class:`~clbox.engine.workdir.WorkDirLock`); a fresh run
      moves a previous run's outputs to ``previous_runs/`` instead of overwriting them;
    * ``load_from`` without ``resume`` loads weights only (no method state such as buffers
      or teachers) and accepts checkpoints of the bare task model; every load (``load_from``,
      ``--resume``, ``tools/test.py``) refuses a checkpoint with missing, unexpected or
      differently shaped tensors, naming the first few, unless the config asks for a
      partial load (``load_cfg=dict(strict=False, prefix_map={'old.': 'new.'})``, logged);
      a resume also checks the method and its state (buffer) and the optimizer groups;
    * several processes (``--launcher pytorch`` under ``torchrun``): nccl on GPUs, gloo
      without CUDA (no ``set_device``); the model is wrapped in
      :class:`~clbox.models.wrappers.ContinualDistributedDataParallel` (rebuilt at every
      experience by the loop); ``sync_bn`` converts BatchNorm to synchronised BatchNorm
      (torch's on GPUs, :class:`~clbox.models.layers.DistBatchNorm` on the CPU);
      checkpoints are written by rank 0 only and hold every rank's buffer share and RNG
      state, and a resume gives each rank its own.
    """

    def __init__(self, *args, scenario=None, **kwargs):
        work_dir = kwargs.get('work_dir')
        self._lock = None
        if work_dir is not None:
            check_writable(work_dir)
            if int(os.environ.get('RANK', 0)) == 0:  # rank 0 holds it for the whole job
                self._lock = WorkDirLock(work_dir)
                self._lock.acquire(' '.join(sys.argv))
        self._scenario = scenario
        #: What a load is for: 'weights' (train, load_from), 'resume', 'test' or None.
        self._load_mode: Optional[str] = None
        self._loaded_meta: Optional[dict] = None
        super().__init__(*args, **kwargs)

    def build_logger(self, *args, **kwargs):
        """mmengine's logger, without the third-party deprecation lines no user can act
        on (:mod:`clbox.compat.noise`)."""
        from clbox.compat.noise import quiet_logger
        return quiet_logger(super().build_logger(*args, **kwargs))

    def build_message_hub(self, message_hub=None):
        """mmengine's message hub, with O(1) scalar appends
        (:mod:`clbox.engine.message_hub`)."""
        from .message_hub import speed_up
        return speed_up(super().build_message_hub(message_hub))

    def call_hook(self, fn_name: str, **kwargs) -> None:
        """Call ``fn_name`` of every hook that implements it (mmengine's ``call_hook``
        visits every hook at every stage; most stages of most hooks are the base class's
        no-op, and per iteration that dispatch is a measurable part of a small model's
        step). Same hooks, same order, same errors."""
        for method in self._hook_methods(fn_name):
            try:
                method(self, **kwargs)
            except TypeError as e:
                raise TypeError(f'{e} in {method.__self__}') from None

    def _hook_methods(self, fn_name: str) -> list:
        """The bound ``fn_name`` methods of the hooks that do something there, cached
        until the hook list changes."""
        hooks = self._hooks
        cache = self.__dict__.setdefault('_hook_method_cache', {})
        key = (fn_name, id(hooks), len(hooks), id(hooks[-1]) if hooks else 0)
        methods = cache.get(key)
        if methods is None:
            methods = [getattr(h, fn_name) for h in hooks if _hook_acts(h, fn_name)]
            cache[key] = methods
        return methods

    @classmethod
    def from_cfg(cls, cfg: Config, scenario=None) -> 'ContinualRunner':
        """Build from a config; ``scenario`` is read lazily from ``cfg.scenario``, unless a
        built scenario object is given (from Python: ``ContinualRunner.from_cfg(cfg,
        scenario=my_scenario)``; the config then needs no ``scenario``).

        Raises:
            TypeError: ``scenario`` is neither None, a config dict nor a scenario with a
                ``train_stream`` and a ``test_stream``.
        """
        if cfg.get('work_dir') is not None:
            check_writable(cfg['work_dir'])
        if scenario is not None and not isinstance(scenario, dict) and not (
                hasattr(scenario, 'train_stream') and hasattr(scenario, 'test_stream')):
            raise TypeError(f'scenario must be a scenario object (with train_stream and '
                            f'test_stream, e.g. a clbox BaseScenario) or a config dict; got '
                            f'{type(scenario).__name__}.')
        runner = super().from_cfg(cfg)
        if scenario is not None:
            runner._scenario = scenario
        return runner

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

    # ----------------------------------------------------------- processes
    def setup_env(self, env_cfg: dict) -> None:
        """mmengine's set-up, with the process group started by
        :func:`clbox.dist.init_distributed` (gloo without CUDA)."""
        if self.distributed and not is_distributed():
            dist.init_distributed(self.launcher, env_cfg.get('dist_cfg'))
        super().setup_env(env_cfg)

    def wrap_model(self, model_wrapper_cfg: Optional[dict], model):
        """Move to the device; with several processes, convert BatchNorm if ``sync_bn``
        is set and wrap the method for DDP (see :meth:`rewrap_model`)."""
        from mmengine.model import is_model_wrapper
        if is_model_wrapper(model):
            return model
        model = model.to(get_device())
        if not self.distributed:
            return revert_sync_batchnorm(model)
        sync_bn = self.cfg.get('sync_bn', None)
        if sync_bn:
            if torch.cuda.is_available():
                model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
            else:
                from clbox.models.layers import convert_sync_bn
                model = convert_sync_bn(model)
        elif not torch.cuda.is_available() and any(
                isinstance(m, torch.nn.SyncBatchNorm) for m in model.modules()):
            # SyncBN layers of the config (e.g. mmpretrain necks' default) cannot run on
            # the CPU: the same synchronisation through gloo
            from clbox.models.layers import convert_sync_bn
            model = convert_sync_bn(model, sync_only=True)
        self._wrapper_cfg = dict(model_wrapper_cfg or {})
        return self._ddp(model)

    def _ddp(self, model):
        cfg = dict(self._wrapper_cfg)
        cfg.setdefault('type', 'ContinualDistributedDataParallel')
        if not ({'broadcast_buffers', 'forward_sync_buffers'} & set(cfg)):
            # no buffer broadcast in forward (running statistics are averaged at epoch ends)
            cfg[_buffer_sync_key()] = False
        cfg.setdefault('find_unused_parameters', self.cfg.get('find_unused_parameters',
                                                              False))
        default_args = dict(module=model)
        if torch.cuda.is_available():
            default_args['device_ids'] = [int(os.environ.get('LOCAL_RANK', 0))]
        return MODEL_WRAPPERS.build(cfg, default_args=default_args)

    def rewrap_model(self) -> None:
        """Wrap the bare method anew (several processes only): DDP registers the
        parameters that require gradients when it is built, and methods add or freeze
        parameters between experiences. The new wrapper broadcasts rank 0's parameters
        and buffers, which every rank already shares."""
        if self.distributed:
            self.model = self._ddp(unwrap(self.model))

    def build_model(self, model):
        """mmengine's ``build_model``; a method's ``buffer`` config without a ``seed`` gets
        the run's (``randomness.seed`` / ``--seed``), so the replay memory's draws follow
        the seed as the rest of the run does. An explicit ``buffer.seed`` is kept."""
        if isinstance(model, dict) and isinstance(model.get('buffer'), dict) \
                and 'seed' not in model['buffer'] and self.seed is not None:
            model = copy.deepcopy(model)
            model['buffer']['seed'] = int(self.seed)
        return super().build_model(model)

    def _init_model_weights(self) -> None:
        """mmengine's initialisation, broadcasting tensors only (a method's extra state,
        such as its buffer, is per rank and not a tensor)."""
        model = unwrap(self.model)
        if hasattr(model, 'init_weights'):
            model.init_weights()
            for value in model.state_dict().values():
                if isinstance(value, torch.Tensor):
                    broadcast(value)

    # ------------------------------------------------------------ train/test
    def train(self):
        self._load_mode = 'resume' if self._resume else 'weights'
        try:
            return super().train()
        finally:
            self._load_mode = None
            self.release_work_dir()

    def test(self):
        """Evaluate ``load_from`` on the test stream. The checkpoint's method state is
        loaded (a segmentation method's step and classes), but not its buffer, which
        evaluation does not use (so any number of processes can test any checkpoint)."""
        self._load_mode = 'test'
        try:
            return super().test()
        finally:
            self._load_mode = None
            self.release_work_dir()

    def release_work_dir(self) -> None:
        """Let other runs use the work dir (also done at exit)."""
        if self._lock is not None:
            self._lock.release()

    def load_or_resume(self) -> None:
        """mmengine's load/resume; then, for a fresh training run, the previous run's
        outputs in the work dir are moved to ``previous_runs/<time>/`` (after loading, so
        ``load_from`` may name one of them)."""
        super().load_or_resume()
        if dist.is_main():
            for path in remove_stale_temporaries(self.work_dir):
                self.logger.info(f'removed "{path}", the unfinished write of a process '
                                 'that died')
        if self._load_mode == 'weights' and dist.is_main():
            moved = archive_previous_run(self.work_dir)
            if moved:
                self.logger.warning(f'the work dir held the outputs of a previous run: moved '
                                    f'them to "{moved}" (nothing is overwritten; use '
                                    '--resume to continue a run instead).')
        dist.barrier()

    # ----------------------------------------------------------- checkpoints
    def save_checkpoint(self, out_dir: str, filename: str, meta: Optional[dict] = None,
                        **kwargs):
        """mmengine's checkpoint plus ``meta['clbox']``, written atomically by rank 0.

        Every rank must call it: the per-rank parts (buffer shares, RNG states) are
        gathered first, and all ranks wait until the file is in place."""
        meta = dict(meta or {})
        loop = self.train_loop
        algorithm = unwrap(self.model)
        gathered = hasattr(algorithm, 'gather_rank_state')
        if gathered:
            algorithm.gather_rank_state()
        try:
            if hasattr(loop, 'state_dict'):
                meta['clbox'] = loop.state_dict()
                meta.setdefault('epoch', loop.epoch)
                meta.setdefault('iter', loop.iter)
            if dist.is_main():
                self._write_checkpoint(out_dir, filename, meta, **kwargs)
        finally:
            if gathered:
                algorithm.release_rank_state()
        dist.barrier()

    def _write_checkpoint(self, out_dir: str, filename: str, meta: dict, **kwargs):
        """Through a unique temporary file, fsync and rename: the old checkpoint or the
        whole new one, never a partial file; a full disk names the path and the bytes."""
        sizes = [osp.getsize(p) for p in glob.glob(osp.join(glob.escape(out_dir),
                                                             'experience_*.pth'))]
        atomic_replace(
            osp.join(out_dir, filename),
            lambda tmp: super(ContinualRunner, self).save_checkpoint(
                out_dir, osp.basename(tmp), meta=meta, **kwargs),
            needed=max(sizes, default=0))

    def resume(self, filename: str, *args, **kwargs) -> None:
        """mmengine's resume, then the loop position, metrics and RNG states."""
        try:
            super().resume(filename, *args, **kwargs)
        except ValueError as e:
            if 'parameter group' not in str(e):
                raise
            raise IncompatibleCheckpointError(
                f'"{filename}" cannot be resumed with this config: its optimizer state does '
                f'not match the optimizer the config builds ({e}). The parameter groups '
                'come from optim_wrapper (paramwise_cfg) and the method: resume with the '
                'config it was trained with, or start a new run from its weights with '
                'load_from.') from None
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
        checkpoint = read_checkpoint(filename, map_location=map_location)
        self._loaded_meta = checkpoint.get('meta', {}) if isinstance(checkpoint, dict) else {}
        if self._load_mode == 'resume':
            self._check_world_size(filename)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = unwrap(self.model)
        state = checkpoint.get('state_dict', checkpoint)
        for pattern, repl in revise_keys:
            state = OrderedDict((re.sub(pattern, repl, k), v) for k, v in state.items())
        state = self._fit_state_dict(model, state, filename)
        if self._load_mode == 'resume':
            self._check_method_state(model, state, filename)
        model.load_state_dict(state, strict=False)  # keys were checked by _fit_state_dict
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    def _check_world_size(self, filename: str) -> None:
        """A resume continues every rank's data order, buffer share and RNG state, so it
        needs the number of processes that wrote the checkpoint."""
        saved = (self._loaded_meta or {}).get('clbox', {}).get('world_size', 1)
        if saved != self.world_size:
            raise IncompatibleCheckpointError(
                f'"{filename}" was written by {saved} process(es) and this run has '
                f'{self.world_size}: the data order, replay-buffer shares and RNG states '
                f'are per rank, so resume with {saved} (tools/dist_train.sh CONFIG {saved} '
                '--resume, or tools/train.py when 1), or start a new run from its weights '
                'with load_from.')

    def _fit_state_dict(self, model, state: OrderedDict, filename: str) -> OrderedDict:
        """Fit a checkpoint's state dict to the model, or refuse it.

        Adds a missing ``model.`` prefix (a bare task-model checkpoint), applies
        ``load_cfg.prefix_map``, drops the method state for weights-only loads and the
        buffer for evaluation, then raises :class:`IncompatibleCheckpointError` on
        missing, unexpected or differently shaped tensors (missing and unexpected keys are
        allowed, and logged, with ``load_cfg=dict(strict=False)``)."""
        load_cfg = dict(self.cfg.get('load_cfg') or {})
        for old, new in (load_cfg.get('prefix_map') or {}).items():
            state = OrderedDict((new + k[len(old):] if k.startswith(old) else k, v)
                                for k, v in state.items())
        own = model.state_dict()
        if not any(k in own for k in state) and any('model.' + k in own for k in state):
            state = OrderedDict(('model.' + k, v) for k, v in state.items())
        if self._load_mode == 'weights':
            state = OrderedDict((k, v) for k, v in state.items()
                                if not k.endswith('_extra_state'))
            own = OrderedDict((k, v) for k, v in own.items() if not k.endswith('_extra_state'))
        elif self._load_mode == 'test' and isinstance(state.get('_extra_state'), dict):
            state = OrderedDict(state)
            state['_extra_state'] = {k: v for k, v in state['_extra_state'].items()
                                     if k != 'buffer'}
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
        # a missing method state (a weights-only file) or BatchNorm step counter is no
        # mismatch: the method starts fresh, the counters at 0
        missing = [k for k in own if k not in state
                   and not k.endswith(('_extra_state', 'num_batches_tracked'))]
        unexpected = [k for k in state if k not in own]
        if missing or unexpected:
            what = '; '.join(
                f'{len(keys)} {name} ({", ".join(keys[:3])}{", ..." if len(keys) > 3 else ""})'
                for name, keys in (('missing from the checkpoint', missing),
                                   ('not in the model', unexpected)) if keys)
            if load_cfg.get('strict', True):
                raise IncompatibleCheckpointError(
                    f'"{filename}" does not fit this config: tensors {what}. Use the config '
                    'the checkpoint was trained with (e.g. the same backbone depth), or load '
                    'it partially on purpose with load_cfg=dict(strict=False) (and '
                    "prefix_map={'old.': 'new.'} to rename keys).")
            self.logger.warning(f'partial load of "{filename}" (load_cfg.strict=False): {what}')
        return state

    def _check_method_state(self, model, state: OrderedDict, filename: str) -> None:
        """A resume continues the method that wrote the checkpoint, with its state."""
        extra = state.get('_extra_state')
        if not isinstance(extra, dict):
            return
        written_by = extra.get('method')
        if written_by is not None and written_by != type(model).__name__:
            raise IncompatibleCheckpointError(
                f'"{filename}" was written by method {written_by} but the config builds '
                f'{type(model).__name__}: a resume continues the same method with its state '
                '(buffer, teacher, importances). Resume with the config it was trained with, '
                'or start a new run from its weights with load_from.')
        if getattr(model, 'buffer', None) is not None and 'buffer' not in extra:
            raise IncompatibleCheckpointError(
                f'"{filename}" holds no replay buffer but {type(model).__name__} of this '
                'config has one: resuming would continue with an empty buffer. Resume with '
                'the config it was trained with, or use load_from for the weights only.')
