"""MLflow "model from code" entry: the registered detector is this class, not a pickle."""

from mlflow.models import set_model

from deltahall.detector.pyfunc import HCDRModel

set_model(HCDRModel())
