"""Parity of FastReid.K8s's Baseline with the PyTorch reference (baseline.py), both ways; run by PyTorchParityTests.

  model_parity.py write DIR   writes, per case of model_cases.json, DIR/<case>.pth as PyTorch writes it (the case's
                              format) and DIR/<case>.npz with the reference's features of DIR/input.npz's images
  model_parity.py check DIR   loads DIR/<case>.pth (written by fastreid) into the reference, strictly, and compares
                              its features of DIR/input.npz with DIR/<case>.npz (fastreid's); exit 1 on any mismatch

Relative error per image: |a - b| / |b| (L2 norms), at most 1e-4.
"""
import collections
import json
import os
import sys

import numpy as np
import torch

from baseline import PIXEL_MEAN, PIXEL_STD, Baseline, randomise

HERE = os.path.dirname(os.path.abspath(__file__))
TOLERANCE = 1e-4


def load_cases():
    with open(os.path.join(HERE, "model_cases.json")) as f:
        spec = json.load(f)
    return spec["input"], spec["cases"]


def images(size, seed=2024):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand((size["batch"], 3, size["height"], size["width"]), generator=generator) * 255


def to_v01(state):
    """FastReID v0.1.x names: heads.bnneck.* and heads.classifier.weight, persistent pixel_mean/pixel_std."""
    renamed = collections.OrderedDict()
    for name, t in state.items():
        if name.startswith("heads.bottleneck.0."):
            name = "heads.bnneck." + name[len("heads.bottleneck.0."):]
        elif name == "heads.weight":
            name = "heads.classifier.weight"
        renamed[name] = t
    renamed["pixel_mean"] = torch.tensor(PIXEL_MEAN).view(1, -1, 1, 1)
    renamed["pixel_std"] = torch.tensor(PIXEL_STD).view(1, -1, 1, 1)
    return renamed


def training_checkpoint(model, state):
    """What FastReID's Checkpointer saves during training: model, optimizer and scheduler state, counters."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()  # zero gradients: momentum buffers exist, the weights do not move
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[40, 90], gamma=0.1)
    assert isinstance(scheduler.state_dict()["milestones"], collections.Counter)
    return {"model": state, "optimizer": optimizer.state_dict(), "scheduler": {"lr_sched": scheduler.state_dict()},
            "iteration": 1234, "epoch": 7}


def write(folder):
    size, cases = load_cases()
    x = images(size)
    np.savez(os.path.join(folder, "input.npz"), images=x.numpy())
    for i, case in enumerate(cases):
        torch.manual_seed(100 + i)
        model = randomise(Baseline(case, size["classes"]), seed=200 + i).eval()
        with torch.no_grad():
            features = model(x)
        state = model.state_dict()
        path = os.path.join(folder, case["name"] + ".pth")
        fmt = case["format"]
        if fmt == "zip":
            torch.save(state, path)
        elif fmt == "legacy":
            torch.save(state, path, _use_new_zipfile_serialization=False)
        elif fmt == "training":
            torch.save(training_checkpoint(model, state), path)
        elif fmt == "v0.1":
            torch.save(training_checkpoint(model, to_v01(state)), path, _use_new_zipfile_serialization=False)
        else:
            raise SystemExit(f"model_cases.json: case {case['name']}: unknown format {fmt}")
        np.savez(os.path.join(folder, case["name"] + ".npz"), features=features.numpy())
        print(f"{case['name']}: wrote {fmt} weights, features {tuple(features.shape)}")


def relative_errors(a, b):
    return (np.linalg.norm(a - b, axis=1) / np.linalg.norm(b, axis=1)).tolist()


def check(folder):
    size, cases = load_cases()
    x = torch.from_numpy(np.load(os.path.join(folder, "input.npz"))["images"])
    failures = []
    for case in cases:
        checkpoint = torch.load(os.path.join(folder, case["name"] + ".pth"), map_location="cpu")
        if not (isinstance(checkpoint, dict) and "model" in checkpoint):
            failures.append(f"{case['name']}: not a FastReID checkpoint ({{'model': state_dict}})")
            continue
        model = Baseline(case, checkpoint["model"]["heads.weight"].shape[0])
        try:
            model.load_state_dict(checkpoint["model"], strict=True)
        except RuntimeError as e:
            failures.append(f"{case['name']}: load_state_dict(strict=True): {e}")
            continue
        with torch.no_grad():
            ours = model.eval()(x).numpy()
        theirs = np.load(os.path.join(folder, case["name"] + ".npz"))["features"]
        if ours.shape != theirs.shape:
            failures.append(f"{case['name']}: PyTorch features {ours.shape}, fastreid's {theirs.shape}")
            continue
        errors = relative_errors(theirs, ours)
        print(f"{case['name']}: max relative error {max(errors):.2e} over {len(errors)} images (dim {ours.shape[1]})")
        failures += [f"{case['name']}: image {i}: relative error {e:.2e} > {TOLERANCE:.0e}" for i, e in enumerate(errors) if not e <= TOLERANCE]
    for f in failures:
        print("FAIL " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "check"):
        raise SystemExit(__doc__)
    os.makedirs(sys.argv[2], exist_ok=True)
    sys.exit(write(sys.argv[2]) if sys.argv[1] == "write" else check(sys.argv[2]))
