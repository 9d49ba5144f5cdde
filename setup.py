"""clbox: an OpenMMLab-style continual-learning toolbox."""
import os.path as osp

from setuptools import find_packages, setup


def requirements(name: str):
    """Requirement lines of requirements/<name>.txt (comments dropped)."""
    path = osp.join(osp.dirname(osp.abspath(__file__)), 'requirements', f'{name}.txt')
    with open(path) as f:
        return [line.split('#')[0].strip() for line in f if line.split('#')[0].strip()]


setup(
    name='clbox',
    version='0.1.0',
    description='Continual learning on mmengine, mmpretrain, mmseg and Avalanche',
    packages=find_packages(include=['clbox', 'clbox.*']),
    # OpenMIM's layout (`mim train clbox CONFIG`, `mim search clbox`): clbox/.mim holds
    # links to the repository's configs, tools and model-index.yml (an editable install
    # uses them in place; a wheel copies what they point to)
    package_data={'clbox': ['.mim/model-index.yml', '.mim/configs/*/*.py',
                            '.mim/configs/*/*/*.py', '.mim/configs/*/*.md',
                            '.mim/tools/*.py', '.mim/tools/*.sh', '.mim/tools/*/*.py']},
    python_requires='>=3.9',
    install_requires=requirements('runtime'),
    extras_require={
        'tests': requirements('tests') + requirements('optional'),
        'optional': requirements('optional'),
        'all': requirements('optional') + requirements('tests'),
    },
)
