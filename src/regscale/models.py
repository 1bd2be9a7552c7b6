"""The regressors' builders; regscale.archs registers each under its name and builds it
(``archs.build_model``), and N_M is its trainable parameter count.

Sizes are the dicts of ``experiments.<name>.sizes`` in the config (keys registered in
regscale.archs). Every model maps a batch of images (B, C, H, W) to (B, n_outputs), one
output per target.

- ``fcn`` {width, depth}: ``depth`` hidden layers of ``width`` ReLU units on the
  flattened image, then a linear output layer. With input size n_in = C H W,
  N_M = (n_in + 1) w + (d - 1)(w + 1) w + (w + 1) n_out: on 2 x 100 x 100 images
  the paper's sweep w = 4 ... 512 at d = 3 spans 8.0e4 ... 1.08e7.
- ``resnet18`` {width}: torchvision's ResNet-18 (BasicBlock, [2, 2, 2, 2]), random
  initialisation, no pretrained weights. ``width`` is the channel count of the first
  stage; the four stages have width x (1, 2, 4, 8) channels, so width = 64 is the
  standard network (11.2 M parameters) and width = 16 has 1/16 of its weights. The stem
  takes C channels. Images under 64 pixels on a side get the CIFAR stem (3 x 3
  convolution, stride 1, no max-pool), so that a 32 x 32 image is not cut to 8 x 8
  before the first block; larger images keep torchvision's 7 x 7 / 2 convolution and
  max-pool. The head is a linear layer to n_out.
- ``vit`` {patch, dim, depth, heads}: timm's VisionTransformer (timm.create_model,
  no pretrained weights) on the C x H x W image cut into patch x patch tokens (the
  patch must divide H and W), ``depth`` blocks of width ``dim`` with ``heads``
  attention heads (MLP ratio 4, class token, learned position embedding), one output
  per target.

torchvision and timm are imported only when their model is built: an FCN job does not
pay for importing them.
"""

from __future__ import annotations

from torch import nn

SMALL_IMAGE = 64  # below this side length ResNet-18 gets the CIFAR stem
VIT_BASE = "vit_tiny_patch16_224"  # timm variant whose settings every size key overrides


def count_parameters(model: nn.Module) -> int:
    """N_M: the number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def fcn(width: int, depth: int, image_shape, n_outputs: int) -> nn.Sequential:
    n_in = 1
    for extent in image_shape:
        n_in *= extent
    layers: list[nn.Module] = [nn.Flatten()]
    for _ in range(depth):
        layers += [nn.Linear(n_in, width), nn.ReLU()]
        n_in = width
    layers.append(nn.Linear(n_in, n_outputs))
    return nn.Sequential(*layers)


def resnet18(width: int, image_shape, n_outputs: int) -> nn.Module:
    from torchvision.models.resnet import BasicBlock
    from torchvision.models.resnet import resnet18 as torchvision_resnet18

    channels, height, side = image_shape
    net = torchvision_resnet18(weights=None, num_classes=n_outputs)
    small = min(height, side) < SMALL_IMAGE
    if small:
        net.conv1 = nn.Conv2d(channels, width, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    else:
        net.conv1 = nn.Conv2d(channels, width, kernel_size=7, stride=2, padding=3, bias=False)
    net.bn1 = nn.BatchNorm2d(width)
    if width != 64:
        # torchvision fixes the stage widths at 64 ... 512; rebuild the stages with its own
        # layer factory at width x (1, 2, 4, 8).
        net.inplanes = width
        for stage, stride in enumerate((1, 2, 2, 2)):
            setattr(net, f"layer{stage + 1}", net._make_layer(BasicBlock, width * 2**stage, 2, stride=stride))
        net.fc = nn.Linear(8 * width, n_outputs)
    # torchvision's initialisation, applied again to the replaced modules.
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return net


def vit(size: dict, image_shape, n_outputs: int) -> nn.Module:
    import timm

    channels, height, width = image_shape
    return timm.create_model(
        VIT_BASE,
        pretrained=False,
        img_size=(height, width),
        in_chans=channels,
        num_classes=n_outputs,
        patch_size=size["patch"],
        embed_dim=size["dim"],
        depth=size["depth"],
        num_heads=size["heads"],
    )
