"""Data sets: the bundled offline default, MNIST-format and CIFAR-10 files, `.npz` files.

Loading, parsing and fingerprinting only; nothing here knows about models or hardware.
"""
