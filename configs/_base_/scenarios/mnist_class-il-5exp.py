# Split MNIST: 5 class-incremental experiences of 2 classes in the fixed order 0..9
# ({0, 1}, {2, 3}, ...); about 12,000 training and 2,000 test images per experience.
# The idx files ({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz], as published) go in
# data_root; nothing is downloaded.
# Peer conventions: Avalanche's SplitMNIST shuffles the class order (seeded) unless given
# fixed_class_order; set class_order=None, shuffle=True, seed=S for that. Accuracies are in
# percent (Avalanche reports fractions). No task labels (class-incremental).
data_root = 'data/mnist'
train_pipeline = [dict(type='PackInputs')]
test_pipeline = [dict(type='PackInputs')]

scenario = dict(
    type='ClassIncremental',
    train=dict(type='MNIST', data_root=data_root, split='train', pipeline=train_pipeline),
    test=dict(type='MNIST', data_root=data_root, split='test', pipeline=test_pipeline),
    num_experiences=5,
    class_order=[0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
)

train_dataloader = dict(
    batch_size=64, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'))
val_dataloader = dict(
    batch_size=256, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'))
test_dataloader = val_dataloader
val_evaluator = dict(type='ClsStreamEvaluator', topk=(1, 5))
test_evaluator = val_evaluator
