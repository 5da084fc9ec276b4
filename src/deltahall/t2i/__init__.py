"""Text-to-image (paper §6.3): fine-tune a text-conditioned UNet (diffusers), judge its samples
with the registered HCDR detector every epoch; Figures 5 and 6 from the tracked history."""
