"""deltahall: a tracked, reproducible laboratory for delta-hallucination.

Paper: "Are Hallucinations Bad Estimations?" (text in ../shared/papers/). `deltahall.theory`
holds its formulas (numpy/scipy only); the experiment packages train and measure.
"""

__version__ = "0.1.0"

import warnings

# MLflow 3.17 warns on its own import of mlflow.pyfunc (one of its built-in models is typed
# `Any`), once per import and per model load: nothing a deltahall user can act on.
warnings.filterwarnings(
    "ignore", message=r".*Any type hint is inferred as AnyType", category=UserWarning
)
