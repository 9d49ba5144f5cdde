# In-memory arrays, class-incremental: images (N, H, W[, C]) or (N, C, H, W), uint8 or
# floats in [0, 1], and labels (N,) saved with
#   numpy.savez('data/my_arrays/train.npz', images=x_train, labels=y_train)
# (and test.npz). From Python, ArrayDataset(images, labels) or any torch Dataset of
# (image, label) pairs (a TensorDataset too) can be given to the scenario directly.
_base_ = ['./naive_resnet18_imagefolder-class-il.py']
data_root = 'data/my_arrays'
scenario = dict(
    _delete_=True, type='ClassIncremental',
    train=dict(type='NumpyDataset', path=f'{data_root}/train.npz',
               pipeline=[dict(type='RandomFlip', prob=0.5, direction='horizontal'),
                         dict(type='PackInputs')]),
    test=dict(type='NumpyDataset', path=f'{data_root}/test.npz',
              pipeline=[dict(type='PackInputs')]),
    num_experiences=5)
model = dict(model=dict(data_preprocessor=dict(to_rgb=False)))   # arrays are RGB
