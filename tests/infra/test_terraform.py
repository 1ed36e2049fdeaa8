"""Static checks of infra/terraform: it parses, and says what infra/README.md promises.

The google provider cannot be downloaded here, so `terraform init`, `validate`
and `plan` cannot run; these tests parse the HCL with python-hcl2 and check the
structure (APIs, private buckets, repositories, least-privilege IAM, names that
resolve, outputs), plus `terraform fmt`, which needs no provider.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from packaging.specifiers import SpecifierSet

from tests.conftest import REPO
from tests.infra.terraform_config import TF_DIR, Config, block, load, references, tf_files

SA_MEMBER = "${google_service_account.pipelines.member}"
ENDPOINTS_MEMBER = "${google_service_account.endpoints.member}"

REQUIRED_APIS = {
    "aiplatform.googleapis.com",
    "storage.googleapis.com",
    "bigquery.googleapis.com",
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "iam.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "compute.googleapis.com",
    "logging.googleapis.com",
}

# The pipelines account's project roles, exactly (infra/README.md says why each).
SA_PROJECT_ROLES = {
    "roles/aiplatform.user",
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/bigquery.jobUser",
}

# Roles no principal may get from this configuration, at any scope.
FORBIDDEN_ROLES = {
    "roles/owner",
    "roles/editor",
    "roles/viewer",
    "roles/storage.admin",
    "roles/aiplatform.admin",
    "roles/iam.serviceAccountAdmin",
    "roles/iam.serviceAccountTokenCreator",
    "roles/resourcemanager.projectIamAdmin",
}

# What the env output sets: the names the project's CLI reads.
ENV_NAMES = [
    "GOOGLE_CLOUD_PROJECT",
    "VERTEX_REGION",
    "PIPELINE_ROOT",
    "VERTEX_STAGING_BUCKET",
    "VERTEX_SERVICE_ACCOUNT",
    "VERTEX_ENDPOINT_SERVICE_ACCOUNT",
    "PIPELINE_IMAGE",
    "KFP_REPOSITORY",
]


@pytest.fixture(scope="module")
def config() -> Config:
    return Config()


def test_the_module_has_its_files():
    names = {p.name for p in tf_files()}
    expected = {"versions.tf", "variables.tf", "apis.tf", "storage.tf"}
    expected |= {"artifact_registry.tf", "iam.tf", "outputs.tf"}
    assert expected <= names


@pytest.mark.parametrize("path", tf_files(), ids=lambda p: p.name)
def test_every_tf_file_parses(path):
    assert load(path), f"{path.name} is empty"


def test_tfvars_example_parses_and_sets_only_declared_variables(config):
    values = load(TF_DIR / "terraform.tfvars.example")
    assert "project_id" in values
    assert set(values) <= set(config.named("variable"))


def test_terraform_and_provider_versions(config):
    settings = config.terraform_block()
    assert settings["required_version"] == ">= 1.5"
    (providers,) = settings["required_providers"]
    google = providers["google"]
    assert google["source"] == "hashicorp/google"
    allowed = SpecifierSet(google["version"])
    assert "6.20.0" in allowed and "7.10.0" in allowed
    assert "5.40.0" not in allowed


def test_required_apis_are_enabled_and_stay_enabled_on_destroy(config):
    assert set(config.locals()["services"]) >= REQUIRED_APIS
    service = config.resources("google_project_service")["enabled"]
    assert service["for_each"] == "${toset(local.services)}"
    assert service["service"] == "${each.value}"
    assert service["disable_on_destroy"] is False


def test_resources_wait_for_the_apis(config):
    for rtype in ("google_storage_bucket", "google_artifact_registry_repository"):
        for name, body in config.resources(rtype).items():
            assert "${google_project_service.enabled}" in body.get("depends_on", []), name
    account = config.resources("google_service_account")["pipelines"]
    assert "${google_project_service.enabled}" in account["depends_on"]


def test_buckets_are_private_uniform_regional_and_kept(config):
    buckets = config.resources("google_storage_bucket")
    assert set(buckets) == {"pipeline_root", "staging"}
    for name, bucket in buckets.items():
        assert bucket["uniform_bucket_level_access"] is True, name
        assert bucket["public_access_prevention"] == "enforced", name
        assert bucket["force_destroy"] is False, name
        assert bucket["location"] == "${var.region}", name
    names = config.locals()
    assert buckets["pipeline_root"]["name"] == "${local.pipeline_root_bucket}"
    assert "var.pipeline_root_bucket" in names["pipeline_root_bucket"]
    assert "var.staging_bucket" in names["staging_bucket"]


def test_pipeline_root_keeps_versions_and_expires_only_old_ones(config):
    root = config.resources("google_storage_bucket")["pipeline_root"]
    assert block(root, "versioning")["enabled"] is True
    # what a run deletes, noncurrent versions too, stays restorable (iam.tf: why it may delete)
    assert block(root, "soft_delete_policy")["retention_duration_seconds"] == (
        "${var.soft_delete_retention_days * 86400}"
    )
    deletes = [
        block(rule, "condition")
        for rule in root["lifecycle_rule"]
        if block(rule, "action")["type"] == "Delete"
    ]
    # Unconditional deletion of live objects would destroy the lineage of every model.
    assert deletes == [
        {
            "days_since_noncurrent_time": "${var.noncurrent_version_retention_days}",
            "with_state": "ARCHIVED",
        }
    ]
    (optional,) = root["dynamic"]
    expiry = optional["lifecycle_rule"]
    assert "var.pipeline_root_retention_days == null ? []" in expiry["for_each"]


def test_docker_and_kfp_repositories(config):
    repos = config.resources("google_artifact_registry_repository")
    assert {name: repo["format"] for name, repo in repos.items()} == {
        "docker": "DOCKER",
        "kfp": "KFP",
    }
    for repo in repos.values():
        assert repo["location"] == "${var.region}"
    assert repos["docker"]["repository_id"] == "${var.name_prefix}"


def test_pipelines_account_has_exactly_the_documented_project_roles(config):
    grants = config.resources("google_project_iam_member")
    roles = [g["role"] for g in grants.values() if g["member"] == SA_MEMBER]
    assert sorted(roles) == sorted(SA_PROJECT_ROLES)
    submitters = {g["role"] for g in grants.values() if g["member"] == "${each.value}"}
    assert submitters == {"roles/aiplatform.user"}


def test_no_authoritative_or_broad_grants(config):
    addresses = config.resource_addresses()
    authoritative = {a for a in addresses if re.search(r"_iam_(binding|policy)\.", a)}
    assert not authoritative, "iam_binding/iam_policy would remove grants made elsewhere"
    roles = {
        body["role"]
        for rtype in {a.split(".")[0] for a in addresses if "_iam_member." in a}
        for body in config.resources(rtype).values()
    }
    assert not roles & FORBIDDEN_ROLES
    project_roles = {g["role"] for g in config.resources("google_project_iam_member").values()}
    assert not [r for r in project_roles if r.startswith("roles/storage.")]


def test_bucket_roles_are_granted_on_the_buckets(config):
    grants = config.resources("google_storage_bucket_iam_member")
    on_bucket = {
        g["bucket"]: g["role"]
        for g in grants.values()
        if g["member"] == SA_MEMBER and not g.get("for_each")
    }
    # objects only: no access control over the artifacts (iam.tf says why delete stays)
    assert on_bucket == {
        "${google_storage_bucket.pipeline_root.name}": "roles/storage.objectUser",
        "${google_storage_bucket.staging.name}": "roles/storage.objectUser",
    }
    (source,) = [g for g in grants.values() if g.get("for_each")]
    assert source["for_each"] == "${toset(var.source_data_buckets)}"
    assert source["role"] == "roles/storage.objectViewer"
    assert source["member"] == SA_MEMBER


def test_bigquery_tables_are_readable_only_in_the_listed_datasets(config):
    (grant,) = config.resources("google_bigquery_dataset_iam_member").values()
    assert grant["for_each"] == "${toset(var.source_bigquery_datasets)}"
    assert grant["role"] == "roles/bigquery.dataViewer"
    assert grant["member"] == SA_MEMBER
    assert grant["dataset_id"] == '${split(".", each.value)[1]}'
    project_roles = {g["role"] for g in config.resources("google_project_iam_member").values()}
    assert not [r for r in project_roles if r.startswith("roles/bigquery.data")]


def test_pipelines_account_pulls_the_image_and_acts_as_itself(config):
    repo_grants = config.resources("google_artifact_registry_repository_iam_member")
    reader = repo_grants["pipelines_image_reader"]
    assert reader["repository"] == "${google_artifact_registry_repository.docker.name}"
    assert (reader["role"], reader["member"]) == ("roles/artifactregistry.reader", SA_MEMBER)

    act_as = config.resources("google_service_account_iam_member")
    self_grant = act_as["pipelines_act_as_self"]
    assert self_grant["service_account_id"] == "${google_service_account.pipelines.name}"
    assert (self_grant["role"], self_grant["member"]) == ("roles/iam.serviceAccountUser", SA_MEMBER)


def test_deployed_models_run_as_their_own_account_that_only_reads_and_reports(config):
    accounts = config.resources("google_service_account")
    assert accounts["endpoints"]["account_id"] == "${var.endpoint_service_account_id}"
    project_roles = {
        g["role"]
        for g in config.resources("google_project_iam_member").values()
        if g["member"] == ENDPOINTS_MEMBER
    }
    assert project_roles == {"roles/logging.logWriter", "roles/monitoring.metricWriter"}
    buckets = {
        (g["bucket"], g["role"])
        for g in config.resources("google_storage_bucket_iam_member").values()
        if g["member"] == ENDPOINTS_MEMBER
    }
    assert buckets == {
        ("${google_storage_bucket.pipeline_root.name}", "roles/storage.objectViewer")
    }
    others = [
        (rtype, body["role"])
        for rtype in ("google_bigquery_dataset_iam_member", "google_service_account_iam_member",
                      "google_artifact_registry_repository_iam_member")
        for body in config.resources(rtype).values()
        if body["member"] == ENDPOINTS_MEMBER
    ]  # fmt: skip
    assert others == []
    act_as = config.resources("google_service_account_iam_member")["pipelines_act_as_endpoints"]
    assert act_as["service_account_id"] == "${google_service_account.endpoints.name}"
    assert (act_as["role"], act_as["member"]) == ("roles/iam.serviceAccountUser", SA_MEMBER)


def test_submitters_may_act_as_the_pipelines_account(config):
    grant = config.resources("google_service_account_iam_member")["submitters_act_as_pipelines"]
    assert grant["for_each"] == "${toset(var.submitter_members)}"
    assert grant["service_account_id"] == "${google_service_account.pipelines.name}"
    assert (grant["role"], grant["member"]) == ("roles/iam.serviceAccountUser", "${each.value}")


def test_every_grant_says_why():
    """Each IAM resource is preceded by a comment (possibly shared with the resources below it)."""
    for path in tf_files():
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if re.match(r'resource "google_\w+_iam_member"', line):
                above = [s.strip() for s in lines[:i] if s.strip()]
                assert above and above[-1].startswith("#"), f"{path.name}:{i + 1} has no comment"


def test_every_variable_referenced_is_declared_and_every_declared_one_is_used(config):
    declared = set(config.named("variable"))
    used = references(config.strings(skip_kinds=("variable",)), "var")
    assert used - declared == set(), "referenced but not declared"
    assert declared - used == set(), "declared but never used"
    for name, variable in config.named("variable").items():
        assert variable.get("description"), f"variable {name} has no description"


def test_every_local_and_resource_referenced_exists(config):
    defined = set(config.locals())
    used = references(config.strings(), "local")
    assert used - defined == set(), "locals referenced but not defined"
    assert defined - used == set(), "locals defined but never used"
    addresses = config.resource_addresses()
    referenced = {
        f"{rtype}.{name}"
        for s in config.strings()
        for rtype, name in re.findall(r"(?<![\w./-])(google_[a-z0-9_]+)\.([a-z0-9_]+)", s)
    }
    assert referenced - addresses == set(), "references to resources that do not exist"


def test_outputs_and_env_block(config):
    outputs = config.named("output")
    expected = {"pipeline_root", "staging_bucket", "docker_repository", "kfp_repository"}
    expected |= {"pipeline_image", "service_account_email", "env"}
    assert expected <= set(outputs)
    env_lines = outputs["env"]["value"].strip().splitlines()
    assert [line.split("=", 1)[0].strip() for line in env_lines] == ENV_NAMES
    assert all(line.split("=", 1)[1].strip() for line in env_lines)
    readme = (REPO / "infra" / "README.md").read_text()
    for name in re.findall(r"terraform output -raw (\w+)", readme):
        assert name in outputs, f"infra/README.md mentions output {name!r}"
    for name in ENV_NAMES:
        assert name in readme, f"infra/README.md does not explain {name}"


def test_repository_urls_have_the_registry_formats(config):
    values = config.locals()
    docker = "google_artifact_registry_repository.docker"
    kfp = "google_artifact_registry_repository.kfp"
    assert values["docker_repository"] == (
        f"${{{docker}.location}}-docker.pkg.dev/${{var.project_id}}/${{{docker}.repository_id}}"
    )
    assert values["kfp_repository"] == (
        f"https://${{{kfp}.location}}-kfp.pkg.dev/${{var.project_id}}/${{{kfp}.repository_id}}"
    )
    assert values["pipeline_image"] == "${local.docker_repository}/${var.image_name}:latest"


def test_default_names_are_valid(config):
    variables = config.named("variable")
    # Service account ids: 6-30 characters, RFC 1035.
    assert re.fullmatch(r"[a-z][-a-z0-9]{4,28}[a-z0-9]", variables["service_account_id"]["default"])
    # Artifact Registry repository ids and bucket name parts: lowercase, digits, hyphens.
    assert re.fullmatch(r"[a-z][-a-z0-9]*[a-z0-9]", variables["name_prefix"]["default"])
    assert "project_id" in variables and "default" not in variables["project_id"]


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")
def test_terraform_fmt():
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-diff", str(TF_DIR)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
