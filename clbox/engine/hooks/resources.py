"""Time, CPU, memory and disk use of every experience."""
import os
import os.path as osp
import resource
import shutil
import sys
import time

from mmengine.hooks import Hook

from clbox.dist import is_main
from clbox.registry import HOOKS
from ..utils import dump_json, reported


def folder_bytes(folder: str) -> int:
    """Total size of the files under ``folder`` (0 if it does not exist)."""
    total = 0
    for base, _, files in os.walk(folder):
        for name in files:
            try:
                total += osp.getsize(osp.join(base, name))
            except OSError:  # a file removed while walking (atomic checkpoint writes)
                pass
    return total


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2 ** 20 if sys.platform == 'darwin' else peak / 1024


@HOOKS.register_module()
class ResourceMonitorHook(Hook):
    """Measure every experience (training and its evaluation): wall time, process CPU
    time and mean CPU use, current and peak RAM, the free disk space in the work dir and
    the bytes the experience wrote there (checkpoint included, so this one is measured
    at the next experience's start or at the end of training), and on a GPU its peak
    allocated memory. Logged once as ``resources/*`` scalars (x-axis: experiences done),
    kept in ``result['details']['resources']`` (so ``results.json``'s history has them; not
    in ``result['metrics']``, which would log them a second time as ``continual/last_*``)
    and appended to
    ``<work_dir>/resources.json`` (like Avalanche's
    ``timing_metrics``, ``cpu_usage_metrics``, ``ram_usage_metrics`` and
    ``disk_usage_metrics``, per experience).

    Args:
        measure_disk (bool): Walk the work dir to measure its growth (cheap for normal work
            dirs; switch off on slow network storage). Defaults to True.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, measure_disk: bool = True):
        self.measure_disk = measure_disk
        self.records = []
        self._start = None
        self._pending_disk = None

    def before_train(self, runner) -> None:
        path = osp.join(runner.work_dir, 'resources.json')
        if osp.isfile(path) and not self.records:  # resumed: keep what was measured
            import json
            with open(path) as f:
                self.records = json.load(f).get('experiences', [])

    def before_experience(self, runner, experience=None) -> None:
        import psutil
        self._finish_disk(runner)
        self._proc = psutil.Process()
        disk = folder_bytes(runner.work_dir) if self.measure_disk else 0
        self._start = dict(wall=time.perf_counter(), cpu=self._cpu_seconds(), disk=disk)

    def after_train(self, runner) -> None:
        self._finish_disk(runner)

    def _finish_disk(self, runner) -> None:
        """Bytes the last experience added to the work dir, its checkpoint included (the
        checkpoint hook runs after this one, so this is measured at the next boundary)."""
        pending = self._pending_disk
        if pending is None:
            return
        record, start = pending
        written = (folder_bytes(runner.work_dir) - start) / 2 ** 20
        record['disk_written_mb'] = written
        runner.visualizer.add_scalars({'resources/disk_written_mb': written},
                                      step=record['experience'] + 1)
        self._dump(runner)
        self._pending_disk = None

    def _cpu_seconds(self) -> float:
        t = self._proc.cpu_times()
        return t.user + t.system + getattr(t, 'children_user', 0) + \
            getattr(t, 'children_system', 0)

    def after_experience_eval(self, runner, experience, result=None) -> None:
        """Measure the experience (training and evaluation) into the result, before the
        checkpoint saves it; the file is written in :meth:`after_experience`."""
        if self._start is None:  # resumed after before_experience ran in another process
            return
        import psutil
        wall = time.perf_counter() - self._start['wall']
        cpu = self._cpu_seconds() - self._start['cpu']
        stats = {
            'resources/time_s': wall,
            'resources/cpu_time_s': cpu,
            'resources/cpu_percent': 100.0 * cpu / wall if wall > 0 else 0.0,
            'resources/ram_mb': self._proc.memory_info().rss / 2 ** 20,
            'resources/peak_ram_mb': max(peak_rss_mb(),
                                         self._proc.memory_info().rss / 2 ** 20),
            'resources/system_ram_percent': psutil.virtual_memory().percent,
            'resources/disk_free_gb': shutil.disk_usage(runner.work_dir).free / 2 ** 30,
        }
        import torch
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            stats['resources/gpu_peak_mem_mb'] = torch.cuda.max_memory_allocated() / 2 ** 20
        if result is not None:
            result.setdefault('details', {})['resources'] = dict(stats)
        runner.visualizer.add_scalars(stats, step=experience.index + 1)
        record = dict(experience=experience.index, name=experience.name,
                      **{k.split('/', 1)[1]: v for k, v in stats.items()})
        self.records.append(record)
        if self.measure_disk:
            self._pending_disk = (record, self._start['disk'])
        self._start = None

    def after_experience(self, runner, experience, result=None) -> None:
        self._dump(runner)

    def _dump(self, runner) -> None:
        if is_main():
            with reported(runner, 'write resources.json'):
                dump_json(dict(experiences=self.records),
                          osp.join(runner.work_dir, 'resources.json'))
