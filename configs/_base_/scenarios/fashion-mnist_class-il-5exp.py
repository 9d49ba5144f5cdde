# Split Fashion-MNIST: 5 class-incremental experiences of 2 classes, in the fixed class
# order 0..9 ({T-shirt/top, Trouser}, {Pullover, Dress}, {Coat, Sandal}, {Shirt, Sneaker},
# {Bag, Ankle boot}); 12,000 training and 2,000 test images per experience.
# The idx files: `apt-get install dataset-fashion-mnist` puts them in data_root.
data_root = '/usr/share/datasets/fashion-mnist'
train_pipeline = [dict(type='PackInputs')]
test_pipeline = [dict(type='PackInputs')]

scenario = dict(
    type='ClassIncremental',
    train=dict(type='FashionMNIST', data_root=data_root, split='train',
               pipeline=train_pipeline),
    test=dict(type='FashionMNIST', data_root=data_root, split='test',
              pipeline=test_pipeline),
    num_experiences=5,
    class_order=[0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
)

# The loops insert each experience's dataset; these are the loader settings.
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
