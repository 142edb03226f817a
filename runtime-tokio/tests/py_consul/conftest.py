"""Root conftest for running py-consul's own test suite against Proconsul.

py-consul's root conftest starts a Consul container per test. This one starts the built
`proconsul` binary instead (`proconsul agent -dev` on free loopback ports, path in
$PROCONSUL_BIN) and yields the same objects under the same fixture names, so the suite's own
`tests/conftest.py` and test files run unchanged:

* `consul_instance` -> ConsulInstance(process, http_port, version)
* `consul_port`     -> (http_port, version)
* `acl_consul_instance` -> skipped with the reason "needs ACLs" (Proconsul has no ACL system).

Readiness is checked exactly as the original does: `/v1/status/leader` answers 200 with a
non-empty leader, then a service registered through the agent shows up in
`/v1/health/service/...`. The agent's log is kept per test under logs/.
"""

from __future__ import annotations

import collections
import os
import socket
import subprocess
import time

import pytest
import requests
from requests import RequestException

ConsulInstance = collections.namedtuple("ConsulInstance", ["container", "port", "version"])

LOGS_DIR = os.path.join(os.path.dirname(__file__), "logs")
os.makedirs(LOGS_DIR, exist_ok=True)

# The flags `proconsul agent -dev` takes for each listener, as Consul names them.
PORT_FLAGS = ("-http-port", "-grpc-port", "-dns-port", "-server-port", "-serf-lan-port", "-serf-wan-port")
READY_TIMEOUT_S = 10
START_ATTEMPTS = 3


@pytest.fixture(scope="session", autouse=True)
def _unset_consul_token():
    for var in ("CONSUL_HTTP_TOKEN", "CONSUL_HTTP_ADDR"):
        os.environ.pop(var, None)


def _binary() -> str:
    path = os.environ.get("PROCONSUL_BIN", "")
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError(f"PROCONSUL_BIN must name the built proconsul binary (got {path!r})")
    return path


def _free_ports(count: int) -> list[int]:
    """Distinct ports the kernel has just handed out; each socket stays open until all are
    chosen, so no two are the same. TCP and UDP share the number (DNS and serf use both)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


CONSUL_HTTP_PORT = 8500


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class Agent:
    """One `proconsul agent -dev` process and its log file."""

    def __init__(self, name: str):
        ports = _free_ports(len(PORT_FLAGS))
        # Inside Consul's container the agent's HTTP API is on 8500, and some tests point
        # health checks at http://localhost:8500 (the agent itself). Use 8500 too when it is
        # free: agents run one at a time.
        if _port_free(CONSUL_HTTP_PORT):
            ports[0] = CONSUL_HTTP_PORT
        self.port = ports[0]
        safe = "".join(c if c.isalnum() or c in "-_.[]" else "_" for c in name)
        self.log_path = os.path.join(LOGS_DIR, f"{safe}.log")
        args = [_binary(), "agent", "-dev", "-client", "127.0.0.1", "-node", "proconsul-dev", "-datacenter", "dc1"]
        for flag, port in zip(PORT_FLAGS, ports):
            args += [flag, str(port)]
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    @property
    def base_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/"

    def exited(self) -> bool:
        return self.process.poll() is not None

    def stop(self) -> None:
        if not self.exited():
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-lines:]).decode("utf-8", "replace")


def _wait_ready(agent: Agent) -> bool:
    """The original conftest's checks: a leader within 10 s, then a service registered through
    the agent appears in the health endpoint."""
    start_time = time.time()
    while True:
        if agent.exited():
            return False
        if time.time() - start_time > READY_TIMEOUT_S:
            raise TimeoutError(f"no leader after {READY_TIMEOUT_S}s; agent log:\n{agent.log_tail()}")
        time.sleep(0.1)
        try:
            response = requests.get(agent.base_uri + "status/leader", timeout=2)
            if response.status_code == 200 and response.json():
                break
        except (RequestException, ValueError):
            continue

    for _ in range(10):
        try:
            requests.put(agent.base_uri + "agent/service/register", json={"name": "test-service"}, timeout=2)
            response = requests.get(agent.base_uri + "health/service/test-service", timeout=2)
            if response.status_code == 200 and response.json():
                requests.put(agent.base_uri + "agent/service/deregister/test-service", timeout=2)
                return True
        except (RequestException, ValueError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"a service registered through the agent never became visible; agent log:\n{agent.log_tail()}")


def start_agent(name: str) -> Agent:
    """Starts an agent and waits until it is ready; retries when it exits at once (a port
    taken between choosing it and binding it)."""
    for _ in range(START_ATTEMPTS):
        agent = Agent(name)
        try:
            if _wait_ready(agent):
                return agent
        except Exception:
            agent.stop()
            raise
        agent.stop()
    raise RuntimeError(f"proconsul agent -dev exited during startup {START_ATTEMPTS} times; last log:\n{agent.log_tail()}")


def get_consul_version(port: int) -> str:
    response = requests.get(f"http://127.0.0.1:{port}/v1/agent/self", timeout=10)
    return response.json()["Config"]["Version"].strip()


@pytest.fixture
def consul_instance(request):
    agent = start_agent(request.node.name)
    try:
        yield ConsulInstance(agent.process, agent.port, get_consul_version(agent.port))
    finally:
        agent.stop()


@pytest.fixture
def acl_consul_instance():
    pytest.skip("needs ACLs: Proconsul has no ACL system")


@pytest.fixture
def consul_port(consul_instance):
    return consul_instance.port, consul_instance.version
