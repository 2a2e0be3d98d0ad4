"""FastReID's losses and classifier layers as PyTorch computes them, for LossParityTests.

Written from FastReID's published formulas (fastreid/modeling/losses/*.py and fastreid/layers/any_softmax.py
at HEAD), not from our C#: the point is a second, independent implementation on the real PyTorch.

usage: /usr/bin/python3 losses.py INPUT.npz CASES.json OUTPUT.npz
INPUT.npz holds `targets` [N] (int64) and the inputs the cases name (features [N, D], logits or cosines
[N, C]); CASES.json is a list of {"loss": ..., "input": ARRAY, parameters}. For case i, OUTPUT.npz gets `i.loss` (a scalar), `i.grad` (the gradient of the
loss with respect to the case's input) and, for the classifier layers, `i.outputs`.
"""
import json
import sys

import numpy as np
import torch
import torch.nn.functional as F


def cross_entropy(outputs, targets, eps, alpha):
    classes = outputs.shape[1]
    log_p = F.log_softmax(outputs, dim=1)
    with torch.no_grad():
        if eps >= 0:
            smooth = torch.full((outputs.shape[0], 1), eps, dtype=outputs.dtype)
        else:  # adaptive: alpha times the predicted probability of the true class
            smooth = alpha * F.softmax(outputs, dim=1).gather(1, targets[:, None])
        soft = (smooth / (classes - 1)).expand_as(log_p).clone()
        soft.scatter_(1, targets[:, None], 1 - smooth)
    per_sample = -(soft * log_p).sum(1)
    kept = max(int((per_sample != 0).sum()), 1)
    return per_sample.sum() / kept


def pairwise_distance(x, norm_feat):
    if norm_feat:
        u = F.normalize(x, dim=1)
        return 2 - 2 * u @ u.t()
    sq = (x * x).sum(1, keepdim=True)
    return (sq + sq.t() - 2 * x @ x.t()).clamp(min=1e-12).sqrt()


def masked_softmax(d, mask):
    shifted = d - (d * mask).max(1, keepdim=True)[0]
    e = shifted.exp() * mask
    return e / (e.sum(1, keepdim=True) + 1e-6)


def triplet(x, targets, margin, norm_feat, hard_mining):
    d = pairwise_distance(x, norm_feat)
    pos = (targets[:, None] == targets[None, :]).to(x.dtype)
    neg = 1 - pos
    if hard_mining:
        ap = (d * pos).max(1)[0]
        an = (d * neg + pos * 1e9).min(1)[0]
    else:
        ap = (d * pos * masked_softmax(d * pos, pos)).sum(1)
        an = (d * neg * masked_softmax(-(d * neg), neg)).sum(1)
    y = torch.ones_like(an)
    if margin > 0:
        return F.margin_ranking_loss(an, ap, y, margin=margin)
    loss = F.soft_margin_loss(an - ap, y)
    if torch.isinf(loss) and loss > 0:  # FastReID falls back to a 0.3 hard margin when the soft one overflows
        loss = F.margin_ranking_loss(an, ap, y, margin=0.3)
    return loss


def pair_masks(x, targets):
    u = F.normalize(x, dim=1)
    sim = u @ u.t()
    n = sim.shape[0]
    same = (targets[:, None] == targets[None, :]).to(x.dtype)
    pos = same - torch.eye(n, dtype=x.dtype)  # a sample is not its own positive
    return sim, pos, 1 - same


def circle(x, targets, margin, gamma):
    sim, pos, neg = pair_masks(x, targets)
    sp, sn = sim * pos, sim * neg
    ap = (1 + margin - sp.detach()).clamp(min=0)
    an = (sn.detach() + margin).clamp(min=0)
    lp = -gamma * ap * (sp - (1 - margin)) - 99999999.0 * (1 - pos)
    ln = gamma * an * (sn - margin) - 99999999.0 * (1 - neg)
    return F.softplus(lp.logsumexp(1) + ln.logsumexp(1)).mean()


def cosface(x, targets, margin, gamma):
    sim, pos, neg = pair_masks(x, targets)
    lp = -gamma * sim * pos - 99999999.0 * (1 - pos)
    ln = gamma * (sim * neg + margin) - 99999999.0 * (1 - neg)
    return F.softplus(lp.logsumexp(1) + ln.logsumexp(1)).mean()


def classifier(kind, cos, targets, scale, margin):
    hot = F.one_hot(targets, cos.shape[1]).to(cos.dtype)
    if kind == "Linear":
        return cos * scale
    if kind == "CosSoftmax":
        return (cos - margin * hot) * scale
    if kind == "ArcSoftmax":  # HEAD: cos(theta + m) on the true class, no threshold
        return torch.cos(torch.acos(cos) + margin * hot) * scale
    if kind == "CircleSoftmax":
        ap = (1 + margin - cos.detach()).clamp(min=0)
        an = (cos.detach() + margin).clamp(min=0)
        return (hot * ap * (cos - (1 - margin)) + (1 - hot) * an * (cos - margin)) * scale
    raise ValueError(kind)


def main(inp, cases_file, out):
    data = np.load(inp)
    targets = torch.from_numpy(data["targets"])
    with open(cases_file) as f:
        cases = json.load(f)
    result = {}
    for i, c in enumerate(cases):
        name = c["loss"]
        x = torch.from_numpy(data[c["input"]].copy()).requires_grad_(True)
        if name == "cross_entropy":
            loss = cross_entropy(x, targets, c["epsilon"], c["alpha"])
        elif name == "triplet":
            loss = triplet(x, targets, c["margin"], c["norm_feat"], c["hard_mining"])
        elif name == "circle":
            loss = circle(x, targets, c["margin"], c["gamma"])
        elif name == "cosface":
            loss = cosface(x, targets, c["margin"], c["gamma"])
        elif name == "classifier":
            outputs = classifier(c["kind"], x, targets, c["scale"], c["margin"])
            result[f"{i}.outputs"] = outputs.detach().numpy()
            loss = cross_entropy(outputs, targets, c["epsilon"], c["alpha"])
        else:
            raise ValueError(f"unknown loss {name!r}")
        loss.backward()
        result[f"{i}.loss"] = loss.detach().numpy()
        result[f"{i}.grad"] = x.grad.numpy()
    np.savez(out, **result)


if __name__ == "__main__":
    main(*sys.argv[1:])
