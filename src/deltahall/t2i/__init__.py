"""Text-to-image (paper §6.3): fine-tune a text-conditioned UNet (diffusers), judge its samples
with the registered HCDR detector every epoch; Figures 5 and 6 from the tracked history."""
from pathlib import Path

# Where the t2i stages write (kept here so the report need not import torch).
OUTPUTS, METRICS, PLOTS = Path("outputs/t2i"), Path("metrics/t2i"), Path("plots/t2i")
HISTORY = PLOTS / "history.csv"
