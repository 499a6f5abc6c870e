"""Writes the small safetensors files committed next to this script, with the `safetensors`
package itself (so the tests read files made by the reference writer, not by our code):

  every-dtype.safetensors   one tensor of every dtype the format has, a scalar, an empty
                            tensor, a tied copy (same dtype and bytes) and __metadata__
  base.safetensors, finetune.safetensors
                            a tiny base model and a fine-tune of it (small nudges, one
                            reshaped tensor, one new tensor), for delta tests

Run: python3 tests/data/make_safetensors.py   (needs torch and safetensors)
"""
import os

import torch
from safetensors.torch import save_file

here = os.path.dirname(os.path.abspath(__file__))
g = torch.Generator().manual_seed(20261127)


def gauss(*shape, scale=0.02):
    return torch.randn(*shape, generator=g) * scale


emb = gauss(64, 48).to(torch.bfloat16)
every = {
    "emb.bf16": emb,
    "lm_head.bf16": emb.clone(),  # tied: same dtype and bytes
    "w.f16": gauss(32, 40).to(torch.float16),
    "w.f32": gauss(700),
    "w.f64": gauss(300).to(torch.float64),
    "w.f8_e4m3": (gauss(500) * 20).to(torch.float8_e4m3fn),
    "w.f8_e5m2": (gauss(500) * 20).to(torch.float8_e5m2),
    "q.i8": torch.randint(-128, 128, (400,), generator=g, dtype=torch.int8),
    "q.u8": torch.randint(0, 256, (400,), generator=g).to(torch.uint8),
    "ids.i16": torch.arange(-300, 300, dtype=torch.int16),
    "ids.i32": torch.arange(1000, dtype=torch.int32) * 7,
    "ids.i64": torch.arange(200, dtype=torch.int64) ** 2,
    "mask.bool": torch.rand(333, generator=g) > 0.5,
    "scale.f32": torch.tensor(0.125),
    "empty.f32": torch.zeros(0, 5),
}
save_file(every, os.path.join(here, "every-dtype.safetensors"),
          metadata={"format": "pt", "source": "zipnn tests/data/make_safetensors.py"})

base = {
    "layer.w": gauss(96, 64).to(torch.bfloat16),
    "layer.b": gauss(64),
    "proj": gauss(40, 10),
}
fine = {
    "layer.w": (base["layer.w"].float() + gauss(96, 64, scale=0.0005)).to(torch.bfloat16),
    "layer.b": base["layer.b"] + gauss(64, scale=0.0001),
    "proj": gauss(10, 40),  # reshaped: coded plain
    "new_head": gauss(128).to(torch.float16),  # not in the base: coded plain
}
save_file(base, os.path.join(here, "base.safetensors"), metadata={"format": "pt"})
save_file(fine, os.path.join(here, "finetune.safetensors"), metadata={"format": "pt"})
