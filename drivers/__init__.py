"""Driver SDK: the interface, errors, models, metric schema and plugin lookup.

Nothing here imports Ray; a third-party driver depends on this package alone.
"""
from .access_info import AccessInfo, RestAccess, SSHAccess
from .arrow_schema import METRIC_SCHEMA, Metric, metrics_to_table, table_to_metrics, validate_table
from .base import (DRIVER_METHODS, IDEMPOTENT_METHODS, LIST_METHODS, ResourceResult, StorageDriver,
                   resource_result)
from .errors import ALL_ERRORS, DelfinError, NotSupported
from .models import RESOURCE_KINDS, validate_rows
from .plugins import available_drivers, load_driver_class

__all__ = [
    "AccessInfo", "RestAccess", "SSHAccess", "METRIC_SCHEMA", "Metric", "metrics_to_table",
    "table_to_metrics", "validate_table", "DRIVER_METHODS", "IDEMPOTENT_METHODS", "LIST_METHODS",
    "ResourceResult", "StorageDriver", "resource_result", "ALL_ERRORS", "DelfinError",
    "NotSupported", "RESOURCE_KINDS", "validate_rows", "available_drivers", "load_driver_class",
]
