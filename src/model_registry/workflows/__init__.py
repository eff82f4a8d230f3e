"""Registration workflows: datasets, predictions and models from configurations or paths.

The pure parts (file validation, parameter and configuration encoding) live in
:mod:`~model_registry.workflows.validation`, :mod:`~model_registry.workflows.params` and
:mod:`~model_registry.workflows.model_config`; they need no server.
"""

from model_registry.workflows.model_config import (
    ModelSpec,
    decode_model_config,
    normalize_model_config,
    spec_from_config,
)
from model_registry.workflows.params import decode_params, encode_params, normalize_params
from model_registry.workflows.validation import (
    DataValidationError,
    ValidationResult,
    local_path,
    read_columns,
    validate_data_file,
)

__all__ = [
    "DataValidationError",
    "ModelSpec",
    "ValidationResult",
    "decode_model_config",
    "decode_params",
    "encode_params",
    "local_path",
    "normalize_model_config",
    "normalize_params",
    "read_columns",
    "spec_from_config",
    "validate_data_file",
]
