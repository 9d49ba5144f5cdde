"""mmengine 0.10's ``BaseDataset._copy_without_annotation(self, memo=dict())`` keeps one
deep-copy memo for the life of the process (a mutable default argument). Every
``get_subset`` goes through it, and the memo maps ``id(object) -> copy``: once an object
is garbage-collected and a new one gets its id, a later subset's deep copy returns the
stale copy of the old object instead of copying the new one. Measured here: a subset's
image array came back as another dataset, and a pipeline transform as a dataset object
("'ArrayDataset' object is not callable"), at random, depending on memory reuse.

:func:`fix_subset_copy` makes every call without an explicit memo use a fresh one (the
behaviour mmengine intends); it is applied when :mod:`clbox.scenarios` is imported.
"""


def fix_subset_copy() -> None:
    """Patch ``BaseDataset._copy_without_annotation`` to use a new memo per call (once)."""
    from mmengine.dataset import BaseDataset
    original = BaseDataset._copy_without_annotation
    if getattr(original, '_clbox_fresh_memo', False):
        return

    def _copy_without_annotation(self, memo=None):
        return original(self, {} if memo is None else memo)

    _copy_without_annotation._clbox_fresh_memo = True
    _copy_without_annotation.__doc__ = original.__doc__
    BaseDataset._copy_without_annotation = _copy_without_annotation
