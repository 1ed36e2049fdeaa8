"""Fixtures shared by the emulator's test modules: its BigQuery and its network layer.

BigQuery (bigquery_loopback.py): the test warehouse and the emulator serving it
on loopback to the real google-cloud-bigquery client. Network
(network_upstreams.py): the emulator's certificates, its proxy in front of the
test upstreams, and its metadata server. Each is started once per test module.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from pipelines.emulator.bigquery.service import BigQueryEmulator
from pipelines.emulator.network.metadata_server import running_metadata_server
from pipelines.emulator.network.proxy import Upstream, running_proxy
from pipelines.emulator.network.tls import Certificates, make_certificates
from tests.pipelines.emulator import bigquery_loopback, network_upstreams
from trainer.timeseries.demo_data import write_demo_database

# ---------------------------------------------------------------- BigQuery


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    path = write_demo_database(tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb")
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE SCHEMA sample")
        connection.execute(bigquery_loopback.TYPED)
    return path


@pytest.fixture(scope="module")
def bigquery_served(warehouse):
    """The BigQuery emulator on the warehouse, and the URL it is served at."""
    project, page_rows = bigquery_loopback.PROJECT, bigquery_loopback.PAGE_ROWS
    emulator = BigQueryEmulator(warehouse, project, page_rows=page_rows)
    with bigquery_loopback.serving(emulator) as url:
        yield emulator, url


@pytest.fixture
def bigquery_emulator(bigquery_served) -> BigQueryEmulator:
    """The served BigQuery emulator, its record of requests cleared."""
    emulator, _ = bigquery_served
    emulator.requests.clear()
    return emulator


@pytest.fixture
def bigquery_client(bigquery_served, bigquery_emulator) -> bigquery.Client:
    """The real client, anonymous, pointed at the served emulator."""
    return bigquery.Client(
        project="pipeline-project",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": bigquery_served[1]},
    )


# ---------------------------------------------------------------- the network layer


@pytest.fixture(scope="module")
def http_upstream() -> Iterator[tuple[str, int]]:
    with network_upstreams.running_echo_server() as address:
        yield address


@pytest.fixture(scope="module")
def grpc_upstream() -> Iterator[tuple[tuple[str, int], list[dict[str, str]]]]:
    """A plaintext gRPC server; yields its address and the metadata of each call it got."""
    with network_upstreams.running_job_server() as served:
        yield served


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def proxy_port(certificates, http_upstream, grpc_upstream) -> Iterator[int]:
    upstream = Upstream(http1=http_upstream, h2=grpc_upstream[0])
    with running_proxy(
        certificates, lambda host: network_upstreams.googleapis(host, upstream)
    ) as port:
        yield port


@pytest.fixture(scope="module")
def metadata_host() -> Iterator[str]:
    project, account = network_upstreams.PROJECT, network_upstreams.SERVICE_ACCOUNT
    with running_metadata_server(project, account) as host:
        yield host
