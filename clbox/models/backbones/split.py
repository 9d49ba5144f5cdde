"""Split a backbone into a lower and an upper part at a named layer (latent replay).

A backbone is seen as an ordered list of :class:`LayerStep`: what its ``forward`` applies,
one step after the other, and which steps end an output stage (``out_indices``). Backbones
describe themselves with a ``layer_sequence()`` method (clbox's :class:`MobileNetV1`);
mmpretrain's ResNet family and MobileNetV2 and plain ``nn.Sequential`` are described here.
Anything else raises a clear error.
"""
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple

import torch
from torch import nn

#: Names that mean "split before the first layer" (replay at the input).
INPUT_NAMES = (None, '', 'input', 'data')


@dataclass
class LayerStep:
    """One step of a backbone's forward.

    Args:
        name (str): Dotted name, e.g. ``'conv5_4.dw'`` or ``'layer3.1'``.
        fn (callable): Maps the previous activation to the next.
        modules (tuple[nn.Module]): The modules ``fn`` uses (frozen with the lower part).
        out_index (int, optional): Output index this step ends, if any.
        aliases (tuple[str]): Other names of the same split point (``'layer3'`` for its
            last block).
    """
    name: str
    fn: Callable
    modules: Tuple[nn.Module, ...] = ()
    out_index: Optional[int] = None
    aliases: Tuple[str, ...] = field(default_factory=tuple)


def _module_step(name: str, module: nn.Module, out_index=None, aliases=()) -> LayerStep:
    return LayerStep(name, module, (module,), out_index, tuple(aliases))


def _stage_steps(prefix: str, stage: nn.Module, out_index: int) -> List[LayerStep]:
    """Steps of a sequential stage, one per block; the last ends the stage."""
    blocks = list(stage.named_children()) if isinstance(stage, nn.Sequential) else []
    if not blocks:
        return [_module_step(prefix, stage, out_index)]
    steps = [_module_step(f'{prefix}.{n}', b) for n, b in blocks]
    steps[-1].out_index = out_index
    steps[-1].aliases = (prefix,)
    return steps


def _resnet_steps(backbone) -> List[LayerStep]:
    """mmpretrain ``ResNet``, ``ResNetV1c/d``, ``ResNet_CIFAR``: stem, maxpool, blocks."""
    if getattr(backbone, 'deep_stem', False):
        steps = [_module_step('stem', backbone.stem)]
    else:
        conv, norm, relu = backbone.conv1, backbone.norm1, backbone.relu
        steps = [LayerStep('stem', lambda x: relu(norm(conv(x))), (conv, norm, relu),
                           aliases=('conv1',))]
    if hasattr(backbone, 'maxpool') and not _is_resnet_cifar(backbone):
        steps.append(_module_step('maxpool', backbone.maxpool))
    for i, name in enumerate(backbone.res_layers):
        steps += _stage_steps(name, getattr(backbone, name), i)
    return steps


def _is_resnet_cifar(backbone) -> bool:
    try:
        from mmpretrain.models.backbones import ResNet_CIFAR
    except ImportError:
        return False
    return isinstance(backbone, ResNet_CIFAR)


def _mobilenet_v2_steps(backbone) -> List[LayerStep]:
    """mmpretrain ``MobileNetV2``: conv1, then ``layer1..7`` and ``conv2`` (indices 0-7)."""
    steps = [_module_step('conv1', backbone.conv1)]
    for i, name in enumerate(backbone.layers):
        steps += _stage_steps(name, getattr(backbone, name), i)
    return steps


def _sequential_steps(backbone: nn.Sequential) -> List[LayerStep]:
    children = list(backbone.named_children())
    return [_module_step(n, m, i if i == len(children) - 1 else None)
            for i, (n, m) in enumerate(children)]


def layer_sequence(backbone: nn.Module) -> List[LayerStep]:
    """The ordered steps of ``backbone``'s forward.

    Raises:
        TypeError: If the backbone is of a kind whose forward is not known here.
    """
    if hasattr(backbone, 'layer_sequence'):
        return backbone.layer_sequence()
    if hasattr(backbone, 'res_layers'):
        return _resnet_steps(backbone)
    if type(backbone).__name__ == 'MobileNetV2' and hasattr(backbone, 'layers'):
        return _mobilenet_v2_steps(backbone)
    if isinstance(backbone, nn.Sequential):
        return _sequential_steps(backbone)
    raise TypeError(
        f'cannot split {type(backbone).__name__} into lower/upper parts: clbox knows the '
        'layer order of MobileNetV1, mmpretrain ResNet/ResNetV1c/ResNetV1d/ResNet_CIFAR, '
        'MobileNetV2 and nn.Sequential. Give the backbone a `layer_sequence()` method '
        'returning clbox.models.backbones.split.LayerStep items, or replay at the input '
        "(latent_layer=None).")


def _out_indices(backbone) -> Tuple[int, ...]:
    out = getattr(backbone, 'out_indices', None)
    if out is None:
        return (-1,)
    return tuple(out) if isinstance(out, (list, tuple)) else (int(out),)


class SplitBackbone:
    """A backbone cut after ``latent_layer``: ``upper(lower(x))`` equals ``backbone(x)``.

    The latent activation is the output of the named step. The upper part returns what
    the backbone returns (a tuple of the ``out_indices`` stages).

    Args:
        backbone (nn.Module): The backbone (kept by reference; nothing is copied).
        latent_layer (str, optional): Step name or alias (``'conv5_4.dw'``, ``'layer3'``,
            ``'layer3.1'``); None or ``'input'`` splits before the first step.

    Raises:
        KeyError: If no step has that name; the message lists the valid names.
        ValueError: If the backbone must output a stage that lies below the split.
    """

    def __init__(self, backbone: nn.Module, latent_layer: Optional[str]):
        steps = layer_sequence(backbone)
        if latent_layer in INPUT_NAMES:
            cut = -1
        else:
            names = [(i, n) for i, s in enumerate(steps) for n in (s.name, *s.aliases)]
            found = [i for i, n in names if n == latent_layer]
            if not found:
                valid = ', '.join(n for _, n in names)
                raise KeyError(f"latent_layer '{latent_layer}' is not a layer of "
                               f'{type(backbone).__name__}. Valid names: input, {valid}.')
            cut = found[0]
        self.backbone = backbone
        self.latent_layer = latent_layer if cut >= 0 else 'input'
        self.lower_steps = steps[:cut + 1]
        self.upper_steps = steps[cut + 1:]
        self.out_indices = self._check_outputs(backbone, steps)

    def _check_outputs(self, backbone, steps) -> Tuple[int, ...]:
        wanted = _out_indices(backbone)
        last = max((s.out_index for s in steps if s.out_index is not None), default=None)
        wanted = tuple(last if i == -1 else i for i in wanted)
        latent_out = self.lower_steps[-1].out_index if self.lower_steps else None
        below = [s.out_index for s in self.lower_steps
                 if s.out_index in wanted and s.out_index != latent_out]
        if below:
            raise ValueError(
                f'{type(backbone).__name__} outputs stage(s) {below} (out_indices='
                f"{wanted}), which lie below latent_layer '{self.latent_layer}' and are "
                'not computed for replayed samples. Use out_indices above the latent '
                'layer (e.g. only the last stage).')
        return wanted

    def lower(self, x: torch.Tensor) -> torch.Tensor:
        """Input to latent activation."""
        for step in self.lower_steps:
            x = step.fn(x)
        return x

    def upper(self, z: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Latent activation to the backbone's outputs."""
        outs = []
        if self.lower_steps and self.lower_steps[-1].out_index in self.out_indices:
            outs.append(z)
        for step in self.upper_steps:
            z = step.fn(z)
            if step.out_index in self.out_indices:
                outs.append(z)
        return tuple(outs)

    def lower_modules(self) -> List[nn.Module]:
        """Modules of the lower part (frozen after the first experience in AR1*)."""
        seen, mods = set(), []
        for step in self.lower_steps:
            for m in step.modules:
                if id(m) not in seen:
                    seen.add(id(m))
                    mods.append(m)
        return mods

    def upper_modules(self) -> List[nn.Module]:
        """Modules of the upper part."""
        return [m for step in self.upper_steps for m in step.modules]

    def names(self, part: str = 'all') -> Sequence[str]:
        """Step names of the ``'lower'``, ``'upper'`` or ``'all'`` part."""
        steps = dict(lower=self.lower_steps, upper=self.upper_steps,
                     all=self.lower_steps + self.upper_steps)[part]
        return [s.name for s in steps]
