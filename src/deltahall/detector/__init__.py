"""HCDR detectors on image embeddings (paper §6.3, Appendix B), registered in MLflow."""
