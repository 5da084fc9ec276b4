"""deltahall: a tracked, reproducible laboratory for delta-hallucination.

Paper: "Are Hallucinations Bad Estimations?" (text in ../shared/papers/). `deltahall.theory`
holds its formulas (numpy/scipy only); the experiment packages train and measure.
"""

__version__ = "0.1.0"
