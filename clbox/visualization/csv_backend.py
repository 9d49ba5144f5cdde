"""A visualizer backend that appends scalars to a CSV file, for spreadsheets and pandas."""
import csv
import os
import os.path as osp
import time
from typing import Optional, Union

import numpy as np
import torch
from mmengine.visualization.vis_backend import BaseVisBackend, force_init_env

from clbox.registry import VISBACKENDS


def _number(value) -> float:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().item()
    elif isinstance(value, np.ndarray):
        value = value.item()
    return float(value)


@VISBACKENDS.register_module()
class CSVVisBackend(BaseVisBackend):
    """Append every logged scalar to ``<save_dir>/<scalar_file>`` as a ``step,tag,value,time``
    row (long format: ``pandas.read_csv(f).pivot_table(index='step', columns='tag')`` gives
    one column per scalar). The file is flushed after each write, so a crashed run keeps
    what it logged; a resumed run appends to it.

    Like Avalanche's ``CSVLogger``, but for any scalar mmengine's ``Visualizer`` receives
    (losses, learning rate, accuracy-matrix metrics, CLEAR metrics, resource use).

    Args:
        save_dir (str): Folder of the CSV file (the Visualizer passes ``vis_data``).
        scalar_file (str): File name. Defaults to 'scalars.csv'.
    """

    FIELDS = ('step', 'tag', 'value', 'time')

    def __init__(self, save_dir: str, scalar_file: str = 'scalars.csv'):
        if not scalar_file.endswith('.csv'):
            raise ValueError(f'scalar_file must end with .csv, got {scalar_file!r}.')
        super().__init__(save_dir)
        self._scalar_file = scalar_file
        self._file = None

    def _init_env(self) -> None:
        os.makedirs(self._save_dir, exist_ok=True)
        path = osp.join(self._save_dir, self._scalar_file)
        new = not osp.isfile(path) or osp.getsize(path) == 0
        self._file = open(path, 'a', newline='')
        self._writer = csv.writer(self._file)
        if new:
            self._writer.writerow(self.FIELDS)
            self._file.flush()

    @property  # type: ignore
    @force_init_env
    def experiment(self) -> 'CSVVisBackend':
        """The backend itself (there is no third-party experiment object)."""
        return self

    @property
    def path(self) -> str:
        """Path of the CSV file."""
        return osp.join(self._save_dir, self._scalar_file)

    @force_init_env
    def add_scalar(self, name: str, value: Union[int, float, torch.Tensor, np.ndarray],
                   step: int = 0, **kwargs) -> None:
        """Append one scalar."""
        self._writer.writerow((int(step), name, repr(_number(value)), f'{time.time():.3f}'))
        self._file.flush()

    @force_init_env
    def add_scalars(self, scalar_dict: dict, step: int = 0,
                    file_path: Optional[str] = None, **kwargs) -> None:
        """Append several scalars at one step (``file_path`` is ignored: one CSV file)."""
        now = f'{time.time():.3f}'
        for name, value in scalar_dict.items():
            self._writer.writerow((int(step), name, repr(_number(value)), now))
        self._file.flush()

    def close(self) -> None:
        """Close the file."""
        if self._file is not None:
            self._file.close()
            self._file = None
