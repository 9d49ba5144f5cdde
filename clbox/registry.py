"""clbox registries.

Every registry here is a child of mmengine's root registry of the same kind, with
``scope='clbox'`` and ``locations`` so that ``type='X'`` resolves without manual imports.
Two kinds are new to clbox and have no mmengine parent: :data:`SCENARIOS` (streams of
experiences) and :data:`BUFFERS` (replay memories).

Lookups fall back, after clbox and mmengine, to the sibling scopes of mmpretrain, mmseg and
mmcv, so every mmpretrain and mmseg ``type`` can be used in a clbox config without a scope
prefix. Where two of them register the same name (``CrossEntropyLoss``, ``ResNet``), the
first scope in :data:`FALLBACK_SCOPES` wins; write ``'mmseg.CrossEntropyLoss'`` to pick another.
An unknown ``type`` raises a ``KeyError`` that lists close matches.
"""
import difflib
from importlib import import_module
from typing import List, Optional, Type

from mmengine import registry as mm
from mmengine.registry import Registry

import clbox.compat  # noqa: F401  (the mmcv.ops fallback must exist before mmseg loads)

#: Sibling scopes searched, in order, when a key is neither in clbox nor in mmengine.
FALLBACK_SCOPES = ('mmpretrain', 'mmseg', 'mmcv')


class ClboxRegistry(Registry):
    """A registry that also searches mmpretrain, mmseg and mmcv, and names close matches.

    Args:
        name (str): Registry name, as in :class:`mmengine.registry.Registry`.
        fallback (bool): Whether to search :data:`FALLBACK_SCOPES` after the parents.
            Defaults to True.
        **kwargs: Passed to :class:`mmengine.registry.Registry`.
    """

    def __init__(self, name: str, fallback: bool = True, **kwargs):
        super().__init__(name, **kwargs)
        self._fallback = fallback

    def _siblings(self) -> List[Registry]:
        """Registries of the fallback scopes that hold the same kind as this one."""
        if not self._fallback or self.parent is None:
            return []
        siblings = []
        for scope in FALLBACK_SCOPES:
            child = self.parent._children.get(scope)
            if child is None:
                try:
                    import_module(f'{scope}.registry')
                except ImportError:
                    continue
                child = self.parent._children.get(scope)
            if child is not None:
                siblings.append(child)
        return siblings

    def _known_names(self) -> List[str]:
        """All names reachable from this registry, for close-match suggestions."""
        names = set(self._module_dict)
        parent = self.parent
        while parent is not None:
            names.update(parent._module_dict)
            parent = parent.parent
        for sibling in self._siblings():
            sibling.import_from_location()
            names.update(sibling._module_dict)
        return sorted(names)

    def get(self, key: str) -> Optional[Type]:
        """Find ``key`` in clbox, its parents, then the fallback scopes.

        Raises:
            KeyError: If ``key`` is found nowhere; the message lists close matches.
        """
        obj = super().get(key)
        if obj is not None:
            return obj
        scope, real_key = self.split_scope_key(key)
        if scope is None:
            for sibling in self._siblings():
                obj = sibling.get(real_key)
                if obj is not None:
                    return obj
        matches = difflib.get_close_matches(real_key, self._known_names(), n=5, cutoff=0.6)
        hint = f' Close matches: {", ".join(matches)}.' if matches else ''
        raise KeyError(
            f"'{key}' is not a registered {self.name} type in clbox, mmengine, "
            f"{', '.join(FALLBACK_SCOPES)}.{hint} Check the spelling of `type` in your "
            'config, or import the module that registers it.')

    def __contains__(self, key: str) -> bool:
        try:
            return self.get(key) is not None
        except KeyError:
            return False


def _child(name: str, parent: Registry, locations: List[str]) -> ClboxRegistry:
    return ClboxRegistry(name, parent=parent, scope='clbox', locations=locations)


RUNNERS = _child('runner', mm.RUNNERS, ['clbox.engine'])
RUNNER_CONSTRUCTORS = _child('runner constructor', mm.RUNNER_CONSTRUCTORS, ['clbox.engine'])
LOOPS = _child('loop', mm.LOOPS, ['clbox.engine'])
HOOKS = _child('hook', mm.HOOKS, ['clbox.engine'])
LOG_PROCESSORS = _child('log processor', mm.LOG_PROCESSORS, ['clbox.engine'])
OPTIMIZERS = _child('optimizer', mm.OPTIMIZERS, ['clbox.engine'])
OPTIM_WRAPPERS = _child('optim_wrapper', mm.OPTIM_WRAPPERS, ['clbox.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor',
                                    mm.OPTIM_WRAPPER_CONSTRUCTORS, ['clbox.engine'])
PARAM_SCHEDULERS = _child('parameter scheduler', mm.PARAM_SCHEDULERS, ['clbox.engine'])
DATASETS = _child('dataset', mm.DATASETS, ['clbox.scenarios'])
DATA_SAMPLERS = _child('data sampler', mm.DATA_SAMPLERS, ['clbox.scenarios'])
TRANSFORMS = _child('transform', mm.TRANSFORMS, ['clbox.scenarios'])
MODELS = _child('model', mm.MODELS, ['clbox.models', 'clbox.algorithms'])
MODEL_WRAPPERS = _child('model_wrapper', mm.MODEL_WRAPPERS, ['clbox.models'])
WEIGHT_INITIALIZERS = _child('weight initializer', mm.WEIGHT_INITIALIZERS, ['clbox.models'])
TASK_UTILS = _child('task util', mm.TASK_UTILS, ['clbox.models'])
METRICS = _child('metric', mm.METRICS, ['clbox.evaluation'])
EVALUATORS = _child('evaluator', mm.EVALUATOR, ['clbox.evaluation'])
VISUALIZERS = _child('visualizer', mm.VISUALIZERS, ['clbox.visualization'])
VISBACKENDS = _child('vis_backend', mm.VISBACKENDS, ['clbox.visualization'])
FUNCTIONS = _child('function', mm.FUNCTIONS, ['clbox.scenarios'])

#: Streams of experiences (class-, domain-, instance-incremental, online, CLEAR, ...).
SCENARIOS = ClboxRegistry('scenario', scope='clbox', fallback=False,
                          locations=['clbox.scenarios'])
#: Replay memories (reservoir, class-balanced, latent, ...).
BUFFERS = ClboxRegistry('buffer', scope='clbox', fallback=False, locations=['clbox.buffers'])
