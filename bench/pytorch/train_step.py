"""The PyTorch twin of `fastreid bench train`'s pre-made step, for bench/train-vs-pytorch.sh.

FastReID's Baseline as our trainer builds it: ResNet (torchvision's BasicBlock / Bottleneck, FastReID's stem max-pool
3x3 / stride 2 / no padding / ceil mode, last stride 1, an optional width multiplier as MODEL.BACKBONE.WIDTH_MULT),
global average pooling, BNNeck with its bias frozen, a Linear classifier; CE with label smoothing 0.1 on the logits
and batch-hard triplet (margin 0.3) on the pooled features, as tests/pytorch/losses.py computes them; Adam
(lr 3.5e-4, L2 weight decay 5e-4, one group: the bag-of-tricks factors are all 1); one pre-made batch of P x 4 images
reused every step, as the pre-made mode of `fastreid bench train` does. Each step reads the loss terms back
(`item()`), as our TrainStep does.

usage: /usr/bin/python3 train_step.py --depth 18 --width 0.5 --batch 64 --height 128 --width-px 64 --classes N
           --threads 2 --steps S [--warmup W] [--profile]
Prints one JSON line: steps_per_s (and, with --profile, the seconds per step of forward, loss, backward, optimizer).
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock, Bottleneck

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "pytorch"))
from baseline import PIXEL_MEAN, PIXEL_STD  # noqa: E402
from losses import cross_entropy, triplet  # noqa: E402


class Trunk(nn.Module):
    def __init__(self, depth, width):
        super().__init__()
        blocks, kind = {18: ([2, 2, 2, 2], BasicBlock), 34: ([3, 4, 6, 3], BasicBlock), 50: ([3, 4, 6, 3], Bottleneck)}[depth]

        def w(c):
            return max(8, round(c * width))

        self.inplanes = w(64)
        self.conv1 = nn.Conv2d(3, self.inplanes, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=0, ceil_mode=True)
        strides = [1, 2, 2, 1]  # last stride 1
        self.stages = nn.Sequential(*[self._layer(kind, w(64 * 2 ** i), blocks[i], strides[i]) for i in range(4)])
        self.out_channels = self.inplanes
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _layer(self, kind, planes, count, stride):
        down = None
        if stride != 1 or self.inplanes != planes * kind.expansion:
            down = nn.Sequential(nn.Conv2d(self.inplanes, planes * kind.expansion, 1, stride=stride, bias=False),
                                 nn.BatchNorm2d(planes * kind.expansion))
        layers = [kind(self.inplanes, planes, stride, down)]
        self.inplanes = planes * kind.expansion
        layers += [kind(self.inplanes, planes) for _ in range(count - 1)]
        return nn.Sequential(*layers)

    def forward(self, x):
        return self.stages(self.maxpool(F.relu(self.bn1(self.conv1(x)))))


class Baseline(nn.Module):
    def __init__(self, depth, width, classes):
        super().__init__()
        self.backbone = Trunk(depth, width)
        dim = self.backbone.out_channels
        self.neck = nn.BatchNorm2d(dim)
        self.neck.bias.requires_grad_(False)
        self.weight = nn.Parameter(torch.randn(classes, dim) * 0.01)
        self.register_buffer("pixel_mean", torch.tensor(PIXEL_MEAN).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(PIXEL_STD).view(1, -1, 1, 1), persistent=False)

    def forward(self, images):
        pooled = F.adaptive_avg_pool2d(self.backbone((images - self.pixel_mean) / self.pixel_std), 1)
        neck = self.neck(pooled).flatten(1)
        return F.linear(neck, self.weight), pooled.flatten(1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--depth", type=int, default=18)
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--height", type=int, default=128)
    p.add_argument("--width-px", type=int, default=64)
    p.add_argument("--classes", type=int, required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--profile", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Baseline(a.depth, a.width, a.classes).train()
    params = [q for q in model.parameters() if q.requires_grad]
    optimizer = torch.optim.Adam(params, lr=3.5e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=5e-4)
    images = torch.rand(a.batch, 3, a.height, a.width_px) * 255
    targets = (torch.arange(a.batch) // 4) % a.classes
    phases = {"forward": 0.0, "loss": 0.0, "backward": 0.0, "optimizer": 0.0}

    def step(profile):
        t0 = time.perf_counter()
        logits, feats = model(images)
        t1 = time.perf_counter()
        terms = [cross_entropy(logits, targets, 0.1, 0.2), triplet(feats, targets, 0.3, False, True)]
        total = terms[0] + terms[1]
        t2 = time.perf_counter()
        optimizer.zero_grad()
        total.backward()
        t3 = time.perf_counter()
        optimizer.step()
        losses = [t.item() for t in terms]
        t4 = time.perf_counter()
        if profile:
            for k, v in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                phases[k] += v
        return losses

    for _ in range(a.warmup):
        step(False)
    start = time.perf_counter()
    for _ in range(a.steps):
        step(a.profile)
    seconds = time.perf_counter() - start
    out = {"steps_per_s": round(a.steps / seconds, 4), "torch": torch.__version__, "threads": torch.get_num_threads()}
    if a.profile:
        out["seconds_per_step"] = {k: round(v / a.steps, 4) for k, v in phases.items()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
