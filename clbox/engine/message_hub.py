"""A message hub whose scalar histories append in O(1).

mmengine's ``HistoryBuffer.update`` appends with ``np.append``, which copies the whole
history (up to 1,000 values) at every call; the runtime-info and timer hooks call it four
times per iteration. On a small model's step that copying is a measurable part of the
iteration. :class:`AppendHistoryBuffer` keeps the same values in a preallocated array with
room to grow and exposes them through the attributes mmengine's statistics read
(``_log_history``, ``_count_history``), so means, windows, logs and checkpoints are
unchanged; a checkpoint stores it as a plain ``HistoryBuffer``.
"""
import numpy as np
from mmengine.logging import HistoryBuffer, MessageHub


class AppendHistoryBuffer(HistoryBuffer):
    """``HistoryBuffer`` with amortised O(1) ``update`` (same contents at every step)."""

    @classmethod
    def from_buffer(cls, buffer: HistoryBuffer) -> 'AppendHistoryBuffer':
        """A copy of ``buffer`` (values, counts, ``max_length``)."""
        new = cls(max_length=buffer.max_length)
        values, counts = buffer._log_history, buffer._count_history
        cap = 2 * max(new.max_length, 1)
        new._values = np.empty(cap, dtype=values.dtype)
        new._counts = np.empty(cap, dtype=counts.dtype)
        n = len(values)
        new._values[:n], new._counts[:n] = values, counts
        new._start, new._end = 0, n
        new._refresh()
        return new

    def _refresh(self) -> None:
        self._log_history = self._values[self._start:self._end]
        self._count_history = self._counts[self._start:self._end]

    def update(self, log_val, count: int = 1) -> None:
        """Append a value (``HistoryBuffer.update``: the oldest beyond ``max_length`` go;
        an int history becomes float with the first float, as ``np.append`` does)."""
        if not isinstance(log_val, (int, float)) or not isinstance(count, (int, float)):
            raise TypeError(f'log_val must be int or float but got {type(log_val)}, count '
                            f'must be int but got {type(count)}')
        if isinstance(log_val, float) and self._values.dtype.kind != 'f':
            self._values = self._values.astype(np.float64)
        if isinstance(count, float) and self._counts.dtype.kind != 'f':
            self._counts = self._counts.astype(np.float64)
        if self._end == len(self._values):  # full: move the newest to the front
            keep = min(self.max_length - 1, self._end - self._start)
            self._values[:keep] = self._values[self._end - keep:self._end]
            self._counts[:keep] = self._counts[self._end - keep:self._end]
            self._start, self._end = 0, keep
        self._values[self._end] = log_val
        self._counts[self._end] = count
        self._end += 1
        if self._end - self._start > self.max_length:
            self._start = self._end - self.max_length
        self._refresh()

    def plain(self) -> HistoryBuffer:
        """The same history as a plain mmengine ``HistoryBuffer``."""
        return HistoryBuffer(self._log_history.copy(), self._count_history.copy(),
                             self.max_length)

    def __deepcopy__(self, memo) -> HistoryBuffer:
        # MessageHub.state_dict deep-copies every buffer: checkpoints then hold a plain
        # HistoryBuffer, which mmengine and weights-only loading know
        return self.plain()


class ContinualMessageHub(MessageHub):
    """mmengine's ``MessageHub`` storing scalars in :class:`AppendHistoryBuffer`."""

    def update_scalar(self, key, value, count: int = 1, resumed: bool = True) -> None:
        buffer = self._log_scalars.get(key)
        if type(buffer) is AppendHistoryBuffer and self._resumed_keys.get(key) == resumed \
                and isinstance(count, int):
            buffer.update(self._get_valid_value(value), count)
            return
        super().update_scalar(key, value, count, resumed)
        buffer = self._log_scalars[key]
        if type(buffer) is HistoryBuffer:
            self._log_scalars[key] = AppendHistoryBuffer.from_buffer(buffer)


def speed_up(message_hub: MessageHub) -> MessageHub:
    """Make ``message_hub`` (the runner's, already registered under its name, so
    ``MessageHub.get_current_instance()`` still finds it) a :class:`ContinualMessageHub`."""
    if type(message_hub) is MessageHub:
        message_hub.__class__ = ContinualMessageHub
    return message_hub
