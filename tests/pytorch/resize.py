"""Images as FastReID feeds them: PIL's open + convert("RGB") + resize with BICUBIC (torchvision's
T.Resize(size, interpolation=3) on a PIL image), for ResizeParityTests.

usage: /usr/bin/python3 resize.py JOBS.json OUTPUT.npz
JOBS.json is a list of {"path": FILE, "height": H, "width": W}; OUTPUT.npz gets job i's RGB bytes [H, W, 3]
as array `i`.
"""
import json
import sys

import numpy as np
from PIL import Image


def main(jobs_file, out):
    with open(jobs_file) as f:
        jobs = json.load(f)
    result = {}
    for i, job in enumerate(jobs):
        with Image.open(job["path"]) as image:
            rgb = image.convert("RGB").resize((job["width"], job["height"]), Image.BICUBIC)
        result[str(i)] = np.asarray(rgb, dtype=np.uint8)
    np.savez(out, **result)


if __name__ == "__main__":
    main(*sys.argv[1:])
