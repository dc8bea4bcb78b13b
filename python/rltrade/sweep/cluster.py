"""Reaching Ray: the packages a sweep needs, and the cluster it runs on."""

from __future__ import annotations

import os
import socket
from typing import Optional

from .folder import SweepError

#: Seconds a ``HOST:PORT`` address gets to accept a TCP connection.
CONNECT_TIMEOUT_S = 5.0


def require_packages() -> None:
    """ray (with Tune) and optuna, imported before anything starts.

    Raises:
        SweepError: one is missing, naming it and the install script.
    """
    try:
        import optuna  # noqa: F401
        import ray  # noqa: F401
        from ray import tune  # noqa: F401
        from ray.tune.search.optuna import OptunaSearch  # noqa: F401
    except ImportError as error:
        raise SweepError(
            f"{error}: the sweep needs ray[tune] and optuna (bash scripts/install_python.sh pins them into .venv; "
            "or pip install 'rltrade[sweep]')"
        ) from None


def connect(address: Optional[str]) -> None:
    """``ray.init``: a local Ray for ``None``; the running cluster otherwise.

    Raises:
        SweepError: naming the address, when it cannot be reached.
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    if address not in (None, "auto"):
        host, sep, port = address.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise SweepError(f"--address {address}: expected auto or HOST:PORT (the head's GCS port, 6379 by default)")
        try:
            socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
        except OSError as error:
            raise SweepError(
                f"--address {address}: cannot reach the Ray cluster ({error.strerror or error}); "
                "is `ray start --head` running there, and is the port open?"
            ) from None
    try:
        if address is None:
            ray.init(address="local", include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    except (ConnectionError, RuntimeError, ray.exceptions.AuthenticationError) as error:
        raise SweepError(
            f"--address {address}: cannot connect to the Ray cluster: {error} (a cluster with token "
            "authentication needs its token here: ~/.ray/auth_token or RAY_AUTH_TOKEN; a local sweep without "
            "--address writes one, which `ray start` on this machine then uses)"
        ) from None
