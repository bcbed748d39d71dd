"""Ray Serve HTTP app: Delfin's v1 REST API backed by the supervisor and the storage actors.

Importing the package imports nothing heavy (the CLI's ``--help`` and the loopback settings of
``local_cluster`` must come before Ray is imported); ``deploy`` and ``shutdown`` load on use.
"""
import importlib
from typing import Any

__all__ = ["deploy", "shutdown"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(name)
    module = importlib.import_module(".deploy", __name__)
    # the functions, not the submodule that importing it left under the same name
    globals().update(deploy=module.deploy, shutdown=module.shutdown)
    return globals()[name]
