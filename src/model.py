"""SimplePoseNet (Xiao et al., 2018): a ResNet backbone, stride-2 deconvolutions and a 1×1 (or 3×3)
convolution predicting one heatmap per joint.

Parameter names follow MindSpore's model-zoo ResNet (``conv1``, ``bn1``, ``layerX.i.convY``,
``layerX.i.down_sample_layer.{0,1}``) and the original port's head (``deconv_layers.deconv_i.{deconv,bn}``,
``final_layer``), so ImageNet backbones of the model zoo and the original's checkpoints load as they are.

Numerics follow the PyTorch reference: BatchNorm momentum 0.1 in PyTorch's convention (0.9 in
MindSpore's), eps 1e-5; max-pool 3×3, stride 2, padding 1 on both sides; the bottleneck's stride on
its 3×3 convolution; PyTorch's ``output_padding`` semantics for the transposed convolutions.

On ``device_target`` CPU the network runs the CPU path ``MODEL.FAST_CPU`` names, decided once when it is built
(:func:`src.network.cpu_path.cpu_path`) and handed to every layer, which builds that formulation as a child Cell
(:mod:`src.network.fast_ops`), with the same parameters; so is the layout activations take between layers on the
oneDNN path (:class:`src.network.cpu_path.Layout`). ``fast_cpu=False`` (or ``MODEL.FAST_CPU: False``) keeps
MindSpore's stock operators, as exported graphs need.

Symbols: N batch, J joints, H×W input size (heatmaps are H/4 × W/4).
"""
import logging
import os
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple, Type, Union

import mindspore as ms
from mindspore import Tensor, nn
from mindspore.common.initializer import HeNormal, Normal, initializer

from src.constants import DECONV_PADDING, RESNET_LAYERS
from src.errors import shown_path
from src.network.cpu_path import CpuPath, FastCpu, Layout, cpu_path, network_layout
from src.network.fast_ops import BatchNorm2d, Conv2d, Conv2dTranspose, MaxPool2d, conv_bn
from src.network.weights import load_network_checkpoint, load_parameters, read_checkpoint

logger = logging.getLogger(__name__)

BN_MOMENTUM = 0.9  # MindSpore's momentum weights the running value: PyTorch's 0.1
BN_EPS = 1e-5
HEAD_INIT_STD = 0.001  # deconvolution and final convolution weights, as the reference
#: Top-level Cells that are not part of the ResNet backbone.
HEAD_CELLS = ("deconv_layers", "final_layer")


def batch_norm(channels: int, path: CpuPath = CpuPath.STOCK, layout: Layout = Layout.NCHW) -> BatchNorm2d:
    """BatchNorm with the reference's eps and momentum; on the CPU paths with the accurate backward, taking
    N×H×W×C in training where the network's layout says so."""
    return BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM, centred_grad=path is not CpuPath.STOCK,
                       nhwc=path is CpuPath.ONEDNN and layout.training_nhwc)


class BasicBlock(nn.Cell):
    """Two 3×3 convolutions with a residual connection (ResNet-18/34).

    Inputs:
        - **x** (Tensor) - N×C_in×H×W.

    Outputs:
        Tensor of shape N×planes×(H/stride)×(W/stride).
    """

    expansion = 1

    def __init__(self, in_channels: int, planes: int, stride: int = 1, path: FastCpu = CpuPath.STOCK,
                 layout: Layout = Layout.NCHW) -> None:
        super().__init__()
        path = cpu_path(path)
        self.conv1 = Conv2d(in_channels, planes, 3, stride, 1, path=path, layout=layout)
        self.bn1 = batch_norm(planes, path, layout)
        self.conv2 = Conv2d(planes, planes, 3, 1, 1, path=path, layout=layout)
        self.bn2 = batch_norm(planes, path, layout)
        self.down_sample_layer = _down_sample(in_channels, planes * self.expansion, stride, path, layout)

    def construct(self, x: Tensor) -> Tensor:
        identity = x if self.down_sample_layer is None else _shortcut(self.down_sample_layer, x)
        out = conv_bn(self.conv1, self.bn1, x, relu=True)
        return conv_bn(self.conv2, self.bn2, out, relu=True, residual=identity)


class Bottleneck(nn.Cell):
    """1×1 reduce, 3×3 (carrying the stride), 1×1 expand ×4, with a residual connection (ResNet-50+).

    Inputs:
        - **x** (Tensor) - N×C_in×H×W.

    Outputs:
        Tensor of shape N×(4·planes)×(H/stride)×(W/stride).
    """

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1, path: FastCpu = CpuPath.STOCK,
                 layout: Layout = Layout.NCHW) -> None:
        super().__init__()
        path = cpu_path(path)
        self.conv1 = Conv2d(in_channels, planes, 1, path=path, layout=layout)
        self.bn1 = batch_norm(planes, path, layout)
        self.conv2 = Conv2d(planes, planes, 3, stride, 1, path=path, layout=layout)
        self.bn2 = batch_norm(planes, path, layout)
        self.conv3 = Conv2d(planes, planes * self.expansion, 1, path=path, layout=layout)
        self.bn3 = batch_norm(planes * self.expansion, path, layout)
        self.down_sample_layer = _down_sample(in_channels, planes * self.expansion, stride, path, layout)

    def construct(self, x: Tensor) -> Tensor:
        identity = x if self.down_sample_layer is None else _shortcut(self.down_sample_layer, x)
        out = conv_bn(self.conv1, self.bn1, x, relu=True)
        out = conv_bn(self.conv2, self.bn2, out, relu=True)
        return conv_bn(self.conv3, self.bn3, out, relu=True, residual=identity)


Block = Union[Type[BasicBlock], Type[Bottleneck]]

#: ResNet depth -> (block, blocks per stage).
RESNET_SPEC: Dict[int, Tuple[Block, Tuple[int, int, int, int]]] = {
    depth: (Bottleneck if bottleneck else BasicBlock, blocks) for depth, (bottleneck, blocks) in RESNET_LAYERS.items()}

def _shortcut(down_sample_layer: nn.SequentialCell, x: Tensor) -> Tensor:
    """The projection shortcut ``[conv, bn]`` applied to ``x`` (BatchNorm folded where it pays)."""
    return conv_bn(down_sample_layer[0], down_sample_layer[1], x)


def _make_layer(block: Block, in_channels: int, planes: int, count: int, stride: int, path: CpuPath,
                layout: Layout) -> nn.SequentialCell:
    """A ResNet stage: ``count`` blocks, the first one carrying the stride and the projection."""
    layers = [block(in_channels, planes, stride, path, layout)]
    layers += [block(planes * block.expansion, planes, 1, path, layout) for _ in range(count - 1)]
    return nn.SequentialCell(layers)


def _down_sample(in_channels: int, out_channels: int, stride: int, path: CpuPath,
                 layout: Layout) -> Optional[nn.SequentialCell]:
    """The projection shortcut (1×1 convolution + BatchNorm) where the shape changes, else None."""
    if stride == 1 and in_channels == out_channels:
        return None
    return nn.SequentialCell([Conv2d(in_channels, out_channels, 1, stride, path=path, layout=layout),
                              batch_norm(out_channels, path, layout)])


class DeconvBlock(nn.Cell):
    """Stride-2 transposed convolution, BatchNorm, ReLU: doubles the spatial size.

    Inputs:
        - **x** (Tensor) - N×C_in×H×W.

    Outputs:
        Tensor of shape N×C_out×2H×2W.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, has_bias: bool,
                 path: FastCpu = CpuPath.STOCK, layout: Layout = Layout.NCHW) -> None:
        super().__init__()
        path = cpu_path(path)
        padding, output_padding = DECONV_PADDING[kernel_size]
        self.deconv = Conv2dTranspose(in_channels, out_channels, kernel_size, padding, output_padding,
                                      has_bias=has_bias, path=path, layout=layout)
        self.bn = batch_norm(out_channels, path, layout)

    def construct(self, x: Tensor) -> Tensor:
        return conv_bn(self.deconv, self.bn, x, relu=True)


class PoseResNet(nn.Cell):
    """ResNet backbone + deconvolution head + final convolution: one heatmap per joint.

    Args:
        num_layers: ResNet depth, a key of :data:`RESNET_SPEC`.
        num_joints: J, the number of heatmaps.
        deconv_filters: output channels of each deconvolution layer.
        deconv_kernels: kernel of each deconvolution layer (2, 3 or 4).
        deconv_with_bias: give the deconvolutions a bias.
        final_kernel: kernel of the final convolution (1, or 3 with padding 1).
        fast: the CPU path, ``MODEL.FAST_CPU``'s value (True, False, "onednn", "im2col") or a :class:`CpuPath`;
            decided here, once (:func:`src.network.cpu_path.cpu_path`), into :attr:`cpu_path`.
        layout: on the oneDNN path, how activations pass between layers (:class:`Layout`; default N×H×W×C in
            inference and training); the other paths run N×C×H×W only.

    Inputs:
        - **x** (Tensor) - N×3×H×W, normalised float32; H and W multiples of 32.

    Outputs:
        Tensor of shape N×J×(H·2^d/32)×(W·2^d/32) for d deconvolution layers (H/4 × W/4 for d = 3).
    """

    def __init__(self, num_layers: int, num_joints: int, deconv_filters: Sequence[int],
                 deconv_kernels: Sequence[int], deconv_with_bias: bool = False, final_kernel: int = 1,
                 fast: FastCpu = False, layout: Optional[Union[str, Layout]] = None) -> None:
        super().__init__()
        # The configuration rules refuse bad values with the key's name; these are the arguments' own checks.
        if num_layers not in RESNET_SPEC or final_kernel not in (1, 3):
            raise ValueError(f"num_layers must be in {sorted(RESNET_SPEC)} and final_kernel 1 or 3, "
                             f"got {num_layers} and {final_kernel}")
        if len(deconv_filters) != len(deconv_kernels) or any(k not in DECONV_PADDING for k in deconv_kernels):
            raise ValueError(f"one deconvolution kernel in {sorted(DECONV_PADDING)} per entry of deconv_filters "
                             f"{list(deconv_filters)} expected, got {list(deconv_kernels)}")
        block, blocks = RESNET_SPEC[num_layers]
        path = self.cpu_path = cpu_path(fast)
        layout = self.cpu_layout = network_layout(path, layout)
        self.num_layers = num_layers
        self.conv1 = Conv2d(3, 64, 7, 2, 3, path=path, layout=layout, first=True)
        self.bn1 = batch_norm(64, path, layout)
        # PyTorch semantics: padding 1 on both sides ('same' would shift the windows)
        self.maxpool = MaxPool2d(kernel_size=3, stride=2, padding=1, path=path, layout=layout)
        self.layer1 = _make_layer(block, 64, 64, blocks[0], 1, path, layout)
        self.layer2 = _make_layer(block, 64 * block.expansion, 128, blocks[1], 2, path, layout)
        self.layer3 = _make_layer(block, 128 * block.expansion, 256, blocks[2], 2, path, layout)
        self.layer4 = _make_layer(block, 256 * block.expansion, 512, blocks[3], 2, path, layout)
        head: "OrderedDict[str, nn.Cell]" = OrderedDict()
        channels = 512 * block.expansion
        for i, (filters, kernel) in enumerate(zip(deconv_filters, deconv_kernels)):
            head[f"deconv_{i}"] = DeconvBlock(channels, filters, kernel, deconv_with_bias, path, layout)
            channels = filters
        self.deconv_layers = nn.SequentialCell(head)
        self.final_layer = Conv2d(channels, num_joints, final_kernel, 1, 1 if final_kernel == 3 else 0,
                                  has_bias=True, path=path, layout=layout, last=True)
        self._init_weights()

    def _init_weights(self) -> None:
        """Backbone convolutions: He normal, fan_out, ReLU gain (torchvision's choice; the reference
        relies on the ImageNet weights loaded over them). Deconvolution and final weights: N(0, 0.001²);
        biases 0; BatchNorm gamma 1, beta 0, running mean 0, running variance 1."""
        for name, cell in self.cells_and_names():
            if isinstance(cell, (nn.Conv2d, nn.Conv2dTranspose)):
                if name.split(".")[0] in HEAD_CELLS:
                    weight_init = Normal(sigma=HEAD_INIT_STD)
                else:
                    weight_init = HeNormal(mode="fan_out", nonlinearity="relu")
                cell.weight.set_data(initializer(weight_init, cell.weight.shape, cell.weight.dtype))
                if cell.bias is not None:
                    cell.bias.set_data(initializer("zeros", cell.bias.shape, cell.bias.dtype))
            elif isinstance(cell, nn.BatchNorm2d):
                for param, value in ((cell.gamma, "ones"), (cell.beta, "zeros"),
                                     (cell.moving_mean, "zeros"), (cell.moving_variance, "ones")):
                    param.set_data(initializer(value, param.shape, param.dtype))

    def construct(self, x: Tensor) -> Tensor:
        x = self.maxpool(conv_bn(self.conv1, self.bn1, x, relu=True))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.final_layer(self.deconv_layers(x))

    def backbone_parameters(self) -> List[ms.Parameter]:
        """The ResNet parameters (stem and layer1-4), those an ImageNet checkpoint provides."""
        return [p for p in self.get_parameters() if p.name.split(".")[0] not in HEAD_CELLS]

    def init_backbone(self, path: str) -> None:
        """Loads the backbone from an ImageNet ResNet checkpoint in MindSpore model-zoo naming.

        Entries the backbone does not have (the classifier ``end_point``/``fc``, optimizer state)
        are ignored.

        Raises:
            FileNotFoundError: ``path`` is not a file.
            CheckpointDamagedError: the file is damaged.
            CheckpointMismatchError: backbone parameters are missing or have other shapes.
        """
        if not path or not os.path.isfile(path):
            raise FileNotFoundError(f"ImageNet checkpoint not found: '{shown_path(path)}' (MODEL.PRETRAINED); download a "
                                    f"MindSpore ResNet-{self.num_layers} checkpoint there or set "
                                    f"MODEL.INIT_WEIGHTS False to train from scratch")
        logger.info("loading pretrained model %s", path)
        load_parameters(self.backbone_parameters(), read_checkpoint(path, "ImageNet checkpoint (MODEL.PRETRAINED)"),
                        path, "MODEL.PRETRAINED")


def use_fast_cpu(cfg: Any) -> FastCpu:
    """The CPU path on ``device_target`` CPU, ``MODEL.FAST_CPU`` (see :func:`src.network.cpu_path.cpu_path`); else False."""
    return getattr(cfg.MODEL, "FAST_CPU", True) if str(cfg.device_target) == "CPU" else False


def get_pose_net(cfg: Any, is_train: bool, ckpt_path: Optional[str] = None,
                 fast_cpu: Optional[FastCpu] = None) -> PoseResNet:
    """Builds SimplePoseNet from the configuration.

    Args:
        cfg: configuration (``POSE_RESNET.*``, ``MODEL.NUM_JOINTS``, ``MODEL.INIT_WEIGHTS``,
            ``MODEL.PRETRAINED``, ``MODEL.FAST_CPU``, ``device_target``).
        is_train: with ``MODEL.INIT_WEIGHTS``, load the ImageNet backbone ``MODEL.PRETRAINED``.
        ckpt_path: a checkpoint of the whole network to load last (optional).
        fast_cpu: force (True, or a path) or forbid (False) the CPU formulations; None decides by
            :func:`use_fast_cpu`.

    Returns:
        The network, mapping N×3×H×W to N×J×H/4×W/4 (with 3 deconvolution layers).
    """
    pose = cfg.POSE_RESNET
    fast = use_fast_cpu(cfg) if fast_cpu is None else fast_cpu
    net = PoseResNet(int(pose.NUM_LAYERS), int(cfg.MODEL.NUM_JOINTS), list(pose.NUM_DECONV_FILTERS),
                     list(pose.NUM_DECONV_KERNELS), bool(pose.DECONV_WITH_BIAS), int(pose.FINAL_CONV_KERNEL), fast=fast)
    if is_train and cfg.MODEL.INIT_WEIGHTS:
        net.init_backbone(cfg.MODEL.PRETRAINED)
    if ckpt_path:
        load_network_checkpoint(net, ckpt_path)
    return net
