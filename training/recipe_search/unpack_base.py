"""Restore a float32 model folder (argv[1]) from pack_base.py's .gpu/base/."""

import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

src, dst = Path(".gpu/base"), Path(sys.argv[1])
dst.mkdir(parents=True, exist_ok=True)
packed = torch.load(src / "packed.pt")
sd = {}
for k, v in packed.items():
    if k.endswith(".q"):
        sd[k[:-2]] = v.float() * packed[k[:-2] + ".scale"]
    elif not k.endswith(".scale"):
        sd[k] = v.float()
save_file({k: v.contiguous() for k, v in sd.items()}, str(dst / "model.safetensors"))
for f in src.iterdir():
    if f.name != "packed.pt":
        shutil.copy(f, dst / f.name)
