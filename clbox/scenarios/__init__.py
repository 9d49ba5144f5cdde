"""Streams of experiences and the datasets they are cut from."""
from .avalanche import AvalancheExperienceDataset, AvalancheScenario
from .base import BaseScenario, Experience, build_dataset, dataset_labels, subset
from .embedded import ArrayDataset, Digits, FashionMNIST, MNIST
from .incremental import ClassIncremental, DomainIncremental, InstanceIncremental, OnlineStream

__all__ = ['BaseScenario', 'Experience', 'build_dataset', 'dataset_labels', 'subset',
           'ArrayDataset', 'Digits', 'MNIST', 'FashionMNIST', 'ClassIncremental',
           'DomainIncremental', 'InstanceIncremental', 'OnlineStream', 'AvalancheScenario',
           'AvalancheExperienceDataset']
