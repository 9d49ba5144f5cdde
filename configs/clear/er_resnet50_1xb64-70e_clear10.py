# Experience replay: each batch is joined by as many samples from a class-balanced memory.
_base_ = ['./resnet50.py']

# The memory keeps every sample once, un-augmented, and each draw gets a fresh random view,
# as the demo's Avalanche ReplayPlugin does (its buffer holds dataset samples, so the
# training transforms run again at every access). Stored: the short side resized to 256
# and the central 256x256 (a fixed shape for the buffer); replayed: a random 224x224 crop
# and a horizontal flip with probability 0.5, drawn per sample on the batch (the training
# pipeline crops 224 from the short side resized to 224: the same crop size, slightly
# less context per crop).
replay_store_size = 256
model = dict(
    type='ER', buffer=dict(type='ClassBalancedBuffer', size=2000),
    observe_pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='ResizeEdge', scale=replay_store_size, edge='short'),
        dict(type='CenterCrop', crop_size=replay_store_size),
        dict(type='PackInputs'),
    ],
    replay_augments=[
        dict(type='BatchRandomCrop', size={{_base_.image_size}}),
        dict(type='BatchRandomFlip', prob=0.5),
    ])
