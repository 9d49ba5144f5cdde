"""Reading and writing checkpoint files: one clear line for every way a file can be bad,
and writes that leave either the old file or the complete new one.

Loading is always weights-only (``torch.load``'s default since torch 2.6, with the safe
globals of :mod:`clbox.compat`): a checkpoint is tensors, numbers, strings and plain
containers, so opening one cannot run code.
"""
import errno
import os
import os.path as osp
import pickle
import uuid
import zipfile
from typing import Callable

from mmengine.runner.checkpoint import _load_checkpoint


class CheckpointFileError(ValueError):
    """A checkpoint file that cannot be read (empty, truncated, not a checkpoint, or
    holding objects other than tensors and plain containers)."""


class DiskFullError(OSError):
    """No room to write a file; nothing was half-written."""


def read_checkpoint(path: str, map_location='cpu') -> dict:
    """Load a checkpoint weights-only, with an error naming the file and the fix.

    Raises:
        FileNotFoundError: No such file.
        CheckpointFileError: Empty, truncated or garbage file, unsafe content, not a dict.
    """
    if '://' not in path:
        if not osp.isfile(path):
            raise FileNotFoundError(f'checkpoint "{path}" does not exist; check load_from / '
                                    '--resume / the CHECKPOINT argument.')
        if osp.getsize(path) == 0:
            raise CheckpointFileError(
                f'checkpoint "{path}" is empty (0 bytes): it was not written completely (an '
                'interrupted copy or download?). Copy it again, or use an earlier checkpoint '
                '(experience_{i}.pth of the previous experience).')
    try:
        checkpoint = _load_checkpoint(path, map_location=map_location)
    except pickle.UnpicklingError as e:
        text = str(e)
        if 'Weights only load failed' in text or 'weights_only' in text:
            reason = next((line.strip() for line in text.splitlines()
                           if 'Unsupported' in line or 'GLOBAL' in line), 'unsupported object')
            raise CheckpointFileError(
                f'checkpoint "{path}" holds Python objects, not only tensors, numbers and '
                f'plain containers ({reason}). clbox loads checkpoints weights-only so that '
                'opening a file cannot run code. If you trust its origin, load it in a '
                'separate session and save only its weights: torch.save({"state_dict": '
                'model.state_dict()}, NEW_PATH).') from None
        raise _not_a_checkpoint(path, e) from None
    except (RuntimeError, EOFError, KeyError, ValueError, zipfile.BadZipFile,
            AttributeError, IndexError, TypeError, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise _not_a_checkpoint(path, e) from None
    if not isinstance(checkpoint, dict):
        raise CheckpointFileError(
            f'"{path}" holds a {type(checkpoint).__name__}, not a checkpoint (a dict with '
            '"state_dict" or a state dict of tensors). Save the model\'s state_dict instead.')
    return checkpoint


def _not_a_checkpoint(path: str, error: BaseException) -> CheckpointFileError:
    size = osp.getsize(path) if osp.isfile(path) else 0
    text = str(error).split('\n')[0][:160]
    if 'PytorchStreamReader' in text or 'zip' in text.lower() or isinstance(
            error, (EOFError, zipfile.BadZipFile)):
        what = 'is truncated or corrupt (not a complete PyTorch file)'
    else:
        what = 'is not a PyTorch checkpoint'
    return CheckpointFileError(
        f'checkpoint "{path}" ({size} bytes) {what}: {type(error).__name__}: {text}. Use '
        'another checkpoint (e.g. the previous experience_{i}.pth) or copy this one again.')


def fsync_path(path: str) -> None:
    """Flush a file, or a folder's entries, to the disk."""
    flags = os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0) if osp.isdir(path) else os.O_RDONLY
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync folders
    finally:
        os.close(fd)


def temporary_name(path: str) -> str:
    """A hidden, unique sibling of ``path`` (several writers never share one)."""
    return osp.join(osp.dirname(path) or '.',
                    f'.{osp.basename(path)}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp')


def default_mode() -> int:
    """0o666 minus the umask: the mode ``open()`` gives a new file."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_replace(path: str, write: Callable[[str], None], needed: int = 0) -> None:
    """Write ``path`` through ``write(tmp_path)``, fsync, rename into place, fsync the
    folder. On any failure the temporary file is removed and ``path`` is untouched.

    Args:
        path (str): Destination.
        write (callable): Writes the whole content to the path it is given.
        needed (int): Expected size in bytes, for the disk-full message. Defaults to 0.

    Raises:
        DiskFullError: The disk (or quota) is full: names the path, the bytes needed and
            the bytes free.
    """
    tmp = temporary_name(path)
    try:
        write(tmp)
        os.chmod(tmp, default_mode())
        fsync_path(tmp)
        os.replace(tmp, path)
        fsync_path(osp.dirname(osp.abspath(path)))
    except OSError as e:
        written = osp.getsize(tmp) if osp.isfile(tmp) else 0
        _remove(tmp)
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            folder = osp.dirname(osp.abspath(path))
            free = _free_bytes(folder)
            need = max(needed, written)
            raise DiskFullError(
                e.errno, f'no space left on the device to write "{path}" (needs about '
                f'{_size(need)}{"+" if need == written else ""}, {_size(free)} free in '
                f'"{folder}"). Nothing was half-written and the previous files are intact: '
                'free some space (or pass another --work-dir) and run again with --resume.'
            ) from None
        raise
    except BaseException:
        _remove(tmp)
        raise


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _free_bytes(folder: str) -> int:
    try:
        import shutil
        return shutil.disk_usage(folder).free
    except OSError:
        return 0


def _size(n: int) -> str:
    for unit in ('B', 'KiB', 'MiB', 'GiB'):
        if n < 1024 or unit == 'GiB':
            return f'{n:.0f} {unit}' if unit == 'B' else f'{n:.1f} {unit}'
        n /= 1024
    return f'{n} B'
