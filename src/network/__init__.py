"""The network's building blocks and shape rules: CPU formulations of the convolutions and BatchNorm."""
