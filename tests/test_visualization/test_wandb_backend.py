"""W&B is offline unless configured, and a W&B failure never stops a run."""
import sys
import types

import pytest

from clbox.visualization import SafeWandbVisBackend


class _FakeWandb(types.ModuleType):
    def __init__(self, fail):
        super().__init__('wandb')
        self.fail, self.kwargs, self.logged = fail, None, []

    def init(self, **kwargs):
        self.kwargs = kwargs
        if self.fail:
            raise ConnectionError('no network')

    def log(self, data, **kwargs):
        self.logged.append(data)

    def define_metric(self, name, **kwargs):
        self.defined = getattr(self, 'defined', []) + [(name, kwargs)]


@pytest.fixture
def fake_wandb(monkeypatch):
    def install(fail=False):
        module = _FakeWandb(fail)
        monkeypatch.setitem(sys.modules, 'wandb', module)
        monkeypatch.delenv('WANDB_MODE', raising=False)
        monkeypatch.delenv('WANDB_API_KEY', raising=False)
        return module
    return install


def test_offline_unless_configured(tmp_path, fake_wandb):
    wandb = fake_wandb()
    backend = SafeWandbVisBackend(save_dir=str(tmp_path))
    backend.add_scalars({'continual/average_accuracy': 50.0}, step=1)
    assert wandb.kwargs['mode'] == 'offline'
    assert wandb.logged and wandb.logged[0]['continual/average_accuracy'] == 50.0
    wandb = fake_wandb()
    SafeWandbVisBackend(save_dir=str(tmp_path), init_kwargs=dict(mode='online')).add_scalars(
        {'a': 1.0})
    assert wandb.kwargs['mode'] == 'online'


def test_failed_start_is_a_warning_not_a_crash(tmp_path, fake_wandb):
    fake_wandb(fail=True)
    backend = SafeWandbVisBackend(save_dir=str(tmp_path))
    with pytest.warns(UserWarning, match='W&B logging disabled'):
        backend.add_scalars({'a': 1.0}, step=1)
    backend.add_scalar('b', 2.0)  # still no error


def test_continual_metrics_use_the_experience_as_x_axis(tmp_path, fake_wandb):
    wandb = fake_wandb()
    backend = SafeWandbVisBackend(save_dir=str(tmp_path))
    backend.add_scalars({'continual/average_accuracy': 50.0}, step=3)
    backend.add_scalars({'train/loss': 0.5}, step=120)
    assert ('continual/*', dict(step_metric='continual/experience')) in wandb.defined
    assert wandb.logged[0] == {'continual/average_accuracy': 50.0, 'continual/experience': 3}
    assert 'continual/experience' not in wandb.logged[1]
