"""Images, captions and the CLIP embedder shared by the detector and text-to-image stages."""
