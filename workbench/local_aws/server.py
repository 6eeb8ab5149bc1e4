"""The local AWS endpoint: moto in server mode with this folder's extensions, on 127.0.0.1.

One account (123456789012), one region (us-east-1). IAM is enforced (moto's access-control
mode): callers sign with the access key of an administrator user made at start (the values
below, printed by `python -m local_aws`), and each Lambda function calls back with its own
role's session, so its role's policies decide what it may do.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

from moto import settings
from moto.core.config import default_user_config
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from local_aws import extensions, lambda_executor, lambda_workers, task_credentials
from local_aws.cloud_assembly import ACCOUNT_ID, REGION

# The administrator's key (what `aws configure` would hold for a real account). Fixed, so the
# README's commands work as written; it only opens this endpoint on 127.0.0.1.
ADMIN_USER = "local-admin"
ADMIN_ACCESS_KEY_ID = "AKIALOCALADMIN000001"
ADMIN_SECRET_ACCESS_KEY = "local-admin-secret-key-not-for-aws"
_ADMIN_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


@dataclass(frozen=True)
class Endpoint:
    url: str
    state_dir: Path

    def environment(self) -> dict[str, str]:
        """What a client (the CDK CLI, the AWS CLI, boto3) needs to talk to this endpoint."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": ADMIN_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": ADMIN_SECRET_ACCESS_KEY,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "CDK_DEFAULT_ACCOUNT": ACCOUNT_ID,
            "CDK_DEFAULT_REGION": REGION,
        }


def create_admin() -> None:
    """The one IAM user that may do anything, with the fixed key above."""
    from moto.iam.models import iam_backends

    iam = iam_backends[ACCOUNT_ID]["aws"]
    iam.create_user(REGION, ADMIN_USER, path="/", tags=[])
    iam.put_user_policy(ADMIN_USER, "administrator", json.dumps(_ADMIN_POLICY))
    key = iam.create_access_key(ADMIN_USER)
    key.access_key_id = ADMIN_ACCESS_KEY_ID
    key.secret_access_key = ADMIN_SECRET_ACCESS_KEY


def configure_moto(enforce_iam: bool) -> None:
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    default_user_config["lambda"] = {"use_docker": False}
    extensions.install()
    if enforce_iam:
        create_admin()
        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0


class PortInUse(RuntimeError):
    def __init__(self, port: int):
        super().__init__(
            f"port {port} on 127.0.0.1 is in use (another `python -m local_aws` still running?): "
            "stop it, or pick another port with --port N (--port 0 picks a free one)"
        )


def ensure_free(port: int) -> None:
    """Fail now, in one line, where werkzeug would print two and leave the thread dead."""
    if port == 0:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise PortInUse(port) from None


class _Server(ThreadedMotoServer):
    def start(self) -> None:
        """moto's start waits forever when the server thread cannot bind (taken between
        `ensure_free` and here); this one says so."""
        self._thread = threading.Thread(target=self._server_entry, daemon=True)
        self._thread.start()
        while not self._server_ready_event.wait(0.1):
            if not self._thread.is_alive():
                raise PortInUse(self._port)


class LocalAws:
    """Start with `start()`; the endpoint serves until `stop()`."""

    def __init__(self, state_dir: Path, port: int = 0, enforce_iam: bool = True):
        self.state_dir = state_dir
        self.port = port
        self.enforce_iam = enforce_iam
        self._server: ThreadedMotoServer | None = None
        self.executor: lambda_executor.Executor | None = None

    def start(self) -> Endpoint:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        ensure_free(self.port)
        configure_moto(self.enforce_iam)
        self._server = _Server("127.0.0.1", self.port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        endpoint = Endpoint(f"http://{host}:{port}", self.state_dir)
        self.executor = lambda_executor.Executor(
            lambda_workers.WorkerPool(endpoint.url, self.state_dir)
        )
        lambda_executor.installed(self.executor).start()  # for the process's lifetime
        task_credentials.install(endpoint.url)
        return endpoint

    def stop(self) -> None:
        if self.executor is not None:
            self.executor.shutdown()
        if self._server is not None:
            self._server.stop()

    def serve_forever(self) -> None:
        threading.Event().wait()
