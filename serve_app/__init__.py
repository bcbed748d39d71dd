"""Ray Serve HTTP app: Delfin's v1 REST API backed by the supervisor and the storage actors."""
import rayactors  # noqa: F401  (sets RAY_AUTH_MODE before ray is imported)

from .deploy import deploy, shutdown  # noqa: E402

__all__ = ["deploy", "shutdown"]
