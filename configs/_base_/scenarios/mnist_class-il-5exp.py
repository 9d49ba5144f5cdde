# Split MNIST: 5 class-incremental experiences of 2 classes in the fixed order 0..9
# ({0, 1}, {2, 3}, ...); about 12,000 training and 2,000 test images per experience.
# The idx files ({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz], as published) go in
# data_root; nothing is downloaded. Loaders and evaluator: Split Fashion-MNIST's.
# Peer conventions: Avalanche's SplitMNIST shuffles the class order (seeded) unless given
# fixed_class_order; set class_order=None, shuffle=True, seed=S for that. Accuracies are in
# percent (Avalanche reports fractions). No task labels (class-incremental).
_base_ = ['./fashion-mnist_class-il-5exp.py']
data_root = 'data/mnist'
scenario = dict(
    train=dict(type='MNIST', data_root=data_root),
    test=dict(type='MNIST', data_root=data_root))
