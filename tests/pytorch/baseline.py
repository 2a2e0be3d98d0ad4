"""A PyTorch reference of FastReID's Baseline (fastreid/modeling/meta_arch/baseline.py, backbones/resnet.py,
heads/embedding_head.py), written for FastReid.K8s's parity tests from FastReID's published architecture.

The trunk is torchvision's own ResNet (torchvision.models.resnetNN, its BasicBlock / Bottleneck modules), changed as
FastReID changes it: the stem max-pool (3x3, stride 2, no padding, ceil mode; torchvision's padding 1 for FastReID
v0.1.x models), the last stride, IBN-a in the first norm of every block of stages 1-3, and non-local blocks
(embedded dot product with a 1-channel inner width, zero-initialised output BN) after the last blocks of stages 2
and 3. The head pools, applies the optional 1x1 embedding conv and BNNeck (bias frozen) and, in evaluation, returns
the neck's output. State-dict names are FastReID's: backbone.*, backbone.NL_2.0.*, heads.bottleneck.*, heads.weight.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

PIXEL_MEAN = [0.485 * 255, 0.456 * 255, 0.406 * 255]
PIXEL_STD = [0.229 * 255, 0.224 * 255, 0.225 * 255]
NON_LOCAL_PER_STAGE = {18: [0, 0, 0, 0], 34: [0, 0, 0, 0], 50: [0, 2, 3, 0], 101: [0, 2, 9, 0]}


class IBN(nn.Module):
    """IBN-a: instance norm (affine) on the first half of the channels, batch norm on the rest."""

    def __init__(self, planes):
        super().__init__()
        self.half = planes // 2
        self.IN = nn.InstanceNorm2d(self.half, affine=True)
        self.BN = nn.BatchNorm2d(planes - self.half)

    def forward(self, x):
        first, rest = torch.split(x, [self.half, x.shape[1] - self.half], dim=1)
        return torch.cat([self.IN(first.contiguous()), self.BN(rest.contiguous())], dim=1)


class NonLocal(nn.Module):
    """Non-local block, embedded dot product normalised by the number of positions, residual output."""

    def __init__(self, channels):
        super().__init__()
        self.inter = 1
        self.g = nn.Conv2d(channels, self.inter, 1)
        self.theta = nn.Conv2d(channels, self.inter, 1)
        self.phi = nn.Conv2d(channels, self.inter, 1)
        self.W = nn.Sequential(nn.Conv2d(self.inter, channels, 1), nn.BatchNorm2d(channels))
        nn.init.zeros_(self.W[1].weight)
        nn.init.zeros_(self.W[1].bias)

    def forward(self, x):
        n, _, h, w = x.shape
        g = self.g(x).flatten(2).transpose(1, 2)          # n, hw, inter
        theta = self.theta(x).flatten(2).transpose(1, 2)  # n, hw, inter
        phi = self.phi(x).flatten(2)                      # n, inter, hw
        affinity = theta @ phi
        y = (affinity / affinity.shape[-1]) @ g           # n, hw, inter
        y = y.transpose(1, 2).reshape(n, self.inter, h, w)
        return self.W(y) + x


class Backbone(nn.Module):
    def __init__(self, depth, last_stride, ibn, nl, stem):
        super().__init__()
        trunk = getattr(torchvision.models, f"resnet{depth}")()
        self.conv1, self.bn1 = trunk.conv1, trunk.bn1
        if stem == "fastreid":
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=0, ceil_mode=True)
        else:
            self.maxpool = trunk.maxpool  # torchvision: padding 1, floor mode
        self.layer1, self.layer2, self.layer3, self.layer4 = trunk.layer1, trunk.layer2, trunk.layer3, trunk.layer4
        if last_stride == 1:
            first = self.layer4[0]
            (first.conv2 if isinstance(first, torchvision.models.resnet.Bottleneck) else first.conv1).stride = (1, 1)
            first.downsample[0].stride = (1, 1)
        if ibn:
            for layer in (self.layer1, self.layer2, self.layer3):
                for block in layer:
                    block.bn1 = IBN(block.bn1.num_features)
        per_stage = NON_LOCAL_PER_STAGE[depth] if nl else [0, 0, 0, 0]
        self.nl_after = []
        for s, (count, layer) in enumerate(zip(per_stage, self.stages())):
            self.nl_after.append(sorted(len(layer) - 1 - i for i in range(count)))
            if count:
                channels = layer[-1].bn2.num_features if isinstance(layer[-1], torchvision.models.resnet.BasicBlock) else layer[-1].bn3.num_features
                setattr(self, f"NL_{s + 1}", nn.ModuleList([NonLocal(channels) for _ in range(count)]))

    def stages(self):
        return [self.layer1, self.layer2, self.layer3, self.layer4]

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        for s, layer in enumerate(self.stages()):
            used = 0
            for i, block in enumerate(layer):
                x = block(x)
                if i in self.nl_after[s]:
                    x = getattr(self, f"NL_{s + 1}")[used](x)
                    used += 1
        return x


class GeM(nn.Module):
    """Generalised mean pooling, (mean of clamp(x, 1e-6)^p)^(1/p); p learnt for the 'P' variant."""

    def __init__(self, learnable):
        super().__init__()
        if learnable:
            self.p = nn.Parameter(torch.ones(1) * 3.0)
        else:
            self.fixed = 3.0

    def forward(self, x):
        p = self.p if hasattr(self, "p") else self.fixed
        return F.adaptive_avg_pool2d(x.clamp(min=1e-6).pow(p), 1).pow(1.0 / p)


class AvgMax(nn.Module):
    def forward(self, x):
        return F.adaptive_avg_pool2d(x, 1) + F.adaptive_max_pool2d(x, 1)


def pooling(name):
    return {
        "GlobalAvgPool": lambda: nn.AdaptiveAvgPool2d(1),
        "GlobalMaxPool": lambda: nn.AdaptiveMaxPool2d(1),
        "GeneralizedMeanPooling": lambda: GeM(learnable=False),
        "GeneralizedMeanPoolingP": lambda: GeM(learnable=True),
        "AdaptiveAvgMaxPool": AvgMax,
    }[name]()


class Head(nn.Module):
    def __init__(self, feat_dim, embedding_dim, bnneck, pool, classes):
        super().__init__()
        self.pool_layer = pooling(pool)
        neck = []
        if embedding_dim > 0:
            neck.append(nn.Conv2d(feat_dim, embedding_dim, 1, bias=False))
            feat_dim = embedding_dim
        if bnneck:
            bn = nn.BatchNorm2d(feat_dim)
            bn.bias.requires_grad_(False)
            neck.append(bn)
        self.bottleneck = nn.Sequential(*neck)
        self.weight = nn.Parameter(torch.randn(classes, feat_dim) * 0.01)

    def forward(self, features):
        return self.bottleneck(self.pool_layer(features))[..., 0, 0]


class Baseline(nn.Module):
    def __init__(self, case, classes):
        super().__init__()
        depth = case["depth"]
        self.backbone = Backbone(depth, case["last_stride"], case["ibn"], case["nl"], case["stem"])
        feat_dim = 512 if depth in (18, 34) else 2048
        self.heads = Head(feat_dim, case["embedding_dim"], case["bnneck"], case["pool"], classes)
        self.register_buffer("pixel_mean", torch.tensor(PIXEL_MEAN).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(PIXEL_STD).view(1, -1, 1, 1), persistent=False)

    def forward(self, images):
        return self.heads(self.backbone((images - self.pixel_mean) / self.pixel_std))


def randomise(model, seed):
    """Weights that make every part count, with activations that stay in range through 101 layers: norms' weights and
    biases and GeM's p away from their initial 1, 0 and 3 (a non-local block's output BN too), then batch-norm
    running statistics measured on one batch of random images (train mode, cumulative average), as training would.
    Random deep nets are poorly conditioned all the same: this float32 reference differs from its own float64 run by
    up to ~1e-4 at ResNet-50 and ~3e-4 at ResNet-101, so agreement within 1e-4 relies on both sides running the same
    float32 arithmetic (libtorch's CPU kernels), not on the rounding being small."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith("bias"):
                t.copy_(torch.randn(t.shape, generator=generator) * 0.1)
            elif name.endswith("pool_layer.p"):
                t.fill_(3.5)
            elif name.endswith("weight") and t.dim() == 1:
                t.copy_(torch.rand(t.shape, generator=generator) + 0.5)
        # a non-local block's 1-channel attention is the worst conditioned part (float32 runs of one model differ by
        # 1e-4 and more after it): a small output scale keeps its share of the features, and its rounding, small
        for m in model.modules():
            if isinstance(m, NonLocal):
                m.W[1].weight.copy_(torch.rand(m.W[1].weight.shape, generator=generator) * 0.1 + 0.05)
        norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
        for m in norms:
            m.momentum = None
            m.reset_running_stats()
        model.train()
        model(torch.rand((4, 3, 64, 32), generator=generator) * 255)
        for m in norms:
            m.momentum = 0.1
    return model.eval()
