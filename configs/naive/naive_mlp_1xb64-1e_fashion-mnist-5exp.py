_base_ = [
    '../_base_/models/mlp_fashion-mnist.py',
    '../_base_/scenarios/fashion-mnist_class-il-5exp.py',
    '../_base_/schedules/sgd_1e-per-exp.py',
    '../_base_/default_runtime.py',
]
# Split Fashion-MNIST, MLP 784-400-400-10, batch 64, 1 epoch per experience: the stream of
# benchmarks/vs_avalanche.py (Avalanche 0.6's Naive on the same data and hyperparameters).
