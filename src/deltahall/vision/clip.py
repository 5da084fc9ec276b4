"""The CLIP embedder (open_clip): a small one trained in the pipeline, or the paper's ViT-B-32.

Default profile: open_clip's own `CLIP` class with a small custom config, trained
contrastively on the default images and their captions (no download). Its image tower embeds
real and generated images for the HCDR detector; its text tower is the frozen text encoder of
the text-to-image stage. Weights are stored as safetensors with the config as JSON.
`paper` profile: ViT-B-32 with OpenAI's pretrained weights (the reference code's choice).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from deltahall.vision.images import resize_images

# open_clip's image normalisation for OpenAI-trained towers; the small model uses it too.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class ClipSpec:
    embed_dim: int = 64
    width: int = 64
    heads: int = 4
    vision_layers: int = 2
    text_layers: int = 2
    patch_size: int = 8
    image_size: int = 32
    context_length: int = 16
    pretrained: str = ""  # "" = small model built here; e.g. "ViT-B-32/openai" (paper)


def build_clip(spec: ClipSpec, with_pretrained_weights: bool = True):
    """The model `spec` names; for a pretrained arch, its weights only when asked (a download
    or a local open_clip cache), else the bare architecture to load saved weights into."""
    import open_clip
    from open_clip.model import CLIPTextCfg, CLIPVisionCfg

    if spec.pretrained:  # paper profile, e.g. "ViT-B-32/openai"
        arch, tag = spec.pretrained.split("/", 1)
        return open_clip.create_model(arch, pretrained=tag if with_pretrained_weights else None)
    vision = CLIPVisionCfg(
        layers=spec.vision_layers,
        width=spec.width,
        head_width=spec.width // spec.heads,
        patch_size=spec.patch_size,
        image_size=spec.image_size,
    )
    text = CLIPTextCfg(
        context_length=spec.context_length,
        width=spec.width,
        heads=spec.heads,
        layers=spec.text_layers,
    )
    return open_clip.CLIP(embed_dim=spec.embed_dim, vision_cfg=vision, text_cfg=text)


def tokenize(texts: list[str], context_length: int) -> torch.Tensor:
    import open_clip  # open_clip's BPE vocabulary ships inside the package: no download

    return open_clip.tokenize(texts, context_length=context_length)


def normalise_images(images: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(CLIP_MEAN, dtype=images.dtype).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, dtype=images.dtype).view(1, 3, 1, 1)
    return (images - mean) / std


@torch.no_grad()
def embed_images(model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """(n, 3, H, W) in [0, 1] -> (n, embed_dim) raw image embeddings (float64)."""
    model.eval()
    size = model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else int(size)  # open_clip: int or (h, w)
    out = []
    for start in range(0, len(images), batch_size):
        batch = resize_images(images[start : start + batch_size], size)
        out.append(model.encode_image(normalise_images(batch)).double().numpy())
    return np.concatenate(out)


def text_token_states(model, tokens: torch.Tensor) -> torch.Tensor:
    """(B, L) token ids -> (B, L, width) per-token states of the text tower (before pooling):
    the `encoder_hidden_states` a UNet2DConditionModel cross-attends to, as in Stable Diffusion."""
    x = model.token_embedding(tokens) + model.positional_embedding
    x = model.transformer(x, attn_mask=model.attn_mask)
    return model.ln_final(x)


def save_clip(model, spec: ClipSpec, folder: Path) -> Path:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "model.safetensors"))
    (folder / "spec.json").write_text(json.dumps(asdict(spec), indent=2) + "\n")
    return folder


def load_clip(folder: Path):
    from safetensors.torch import load_file

    folder = Path(folder)
    if not (folder / "spec.json").exists():
        raise FileNotFoundError(f"{folder}/spec.json missing: run the clip_train stage first")
    spec = ClipSpec(**json.loads((folder / "spec.json").read_text()))
    model = build_clip(spec, with_pretrained_weights=False)
    model.load_state_dict(load_file(str(folder / "model.safetensors")))
    return model.eval(), spec
