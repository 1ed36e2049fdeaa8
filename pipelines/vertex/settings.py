"""Vertex AI settings from environment variables, checked before any network call.

Every problem is reported at once, each naming the variable and a valid example.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from trainer.parameter_limits import SERVICE_ACCOUNT, email_list_problem

_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
_SERVICE_ACCOUNT = re.compile(f"^(?:{SERVICE_ACCOUNT})$")
_NETWORK = re.compile(r"^projects/[0-9]+/global/networks/[a-z0-9-]+$")
_BUCKET_URI = re.compile(r"^gs://[a-z0-9][a-z0-9._-]{1,61}[a-z0-9](/.*)?$")
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
_KFP_REPOSITORY = re.compile(
    r"^https://[a-z0-9-]+-kfp\.pkg\.dev/[^/]+/[^/]+$|^http://127\.0\.0\.1:[0-9]+/[^/]+/[^/]+$"
)
_CRON_FIELD = r"[0-9*/,\-A-Za-z?]+"
_CRON = re.compile(rf"^((CRON_)?TZ=[\w/+\-]+ )?{_CRON_FIELD}( {_CRON_FIELD}){{4}}$")
_TRUE, _FALSE = {"1", "true", "yes"}, {"0", "false", "no"}

EXAMPLES = {
    "GOOGLE_CLOUD_PROJECT": "my-project",
    "VERTEX_REGION": "us-central1",
    "PIPELINE_ROOT": "gs://my-project-pipeline-root",
    "VERTEX_SERVICE_ACCOUNT": "vertex-pipelines@my-project.iam.gserviceaccount.com",
    "VERTEX_ENDPOINT_SERVICE_ACCOUNT": "vertex-endpoints@my-project.iam.gserviceaccount.com",
    "VERTEX_NETWORK": "projects/123456789/global/networks/my-vpc",
    "PIPELINE_LABELS": "team=ml,env=dev",
    "ENABLE_CACHING": "false",
    "VERTEX_API_ENDPOINT": "us-central1-aiplatform.googleapis.com",
    "KFP_REPOSITORY": "https://us-central1-kfp.pkg.dev/my-project/pipelines",
    "SCHEDULE_CRON": "TZ=Etc/UTC 0 3 * * 1",
    "VERTEX_NOTIFICATION_EMAILS": "ml-team@example.com,oncall@example.com",
}
NOTIFICATION_EMAILS = "VERTEX_NOTIFICATION_EMAILS"
# VertexNotificationEmailOp mails at most three addresses (Vertex AI's documentation).
MAX_NOTIFICATION_EMAILS = 3


class SettingsError(SystemExit):
    """Bad or missing settings; the message lists each with an example."""


@dataclass(frozen=True)
class VertexSettings:
    project: str
    region: str
    pipeline_root: str
    service_account: str | None = None
    endpoint_service_account: str | None = None  # what deployed models run as
    network: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    enable_caching: bool | None = None  # None: what the compiled pipeline says
    api_endpoint: str | None = None
    kfp_repository: str | None = None
    schedule_cron: str | None = None
    # who hears of a run's end (the exit handler, compiled in) and of monitoring alerts
    notification_emails: tuple[str, ...] = ()

    @property
    def uses_loopback(self) -> bool:
        """A plain-http endpoint is a local stand-in: it gets anonymous credentials."""
        return bool(self.api_endpoint and self.api_endpoint.startswith("http://"))


def load_settings(
    environ: Mapping[str, str] | None = None, for_schedule: bool = False
) -> VertexSettings:
    """Read and check the settings; `for_schedule` also needs KFP_REPOSITORY and SCHEDULE_CRON."""
    env = {k: v.strip() for k, v in (os.environ if environ is None else environ).items()}
    problems: list[str] = []

    def get(name: str, pattern: re.Pattern | None, required: bool, what: str) -> str | None:
        value = env.get(name) or None
        if value is None:
            if required:
                problems.append(f"{name} is not set: {what}, e.g. {name}={EXAMPLES[name]}")
        elif pattern and not pattern.match(value):
            problems.append(f"{name}={value!r} is not {what}, e.g. {name}={EXAMPLES[name]}")
        return value

    project = get("GOOGLE_CLOUD_PROJECT", _PROJECT, True, "a Google Cloud project id")
    region = get("VERTEX_REGION", _REGION, False, "a Vertex AI region") or "us-central1"
    root = get("PIPELINE_ROOT", None, True, "the gs:// folder for pipeline outputs")
    if root and not root.startswith("gs://"):
        problems.append(
            f"PIPELINE_ROOT={root!r} is not a gs:// URI: Vertex AI writes pipeline outputs to "
            f"Cloud Storage, e.g. PIPELINE_ROOT={EXAMPLES['PIPELINE_ROOT']}"
        )
    elif root and not _BUCKET_URI.match(root):
        problems.append(
            f"PIPELINE_ROOT={root!r} does not start with a valid bucket name (3-63 lowercase "
            f"letters, digits, '-', '_' or '.'), e.g. PIPELINE_ROOT={EXAMPLES['PIPELINE_ROOT']}"
        )
    settings = VertexSettings(
        project=project or "",
        region=region,
        pipeline_root=(root or "").rstrip("/"),
        service_account=get("VERTEX_SERVICE_ACCOUNT", _SERVICE_ACCOUNT, False, "an email"),
        endpoint_service_account=get(
            "VERTEX_ENDPOINT_SERVICE_ACCOUNT", _SERVICE_ACCOUNT, False, "an email"
        ),
        network=get("VERTEX_NETWORK", _NETWORK, False, "a full VPC network name"),
        labels=_labels(env.get("PIPELINE_LABELS", ""), problems),
        enable_caching=_caching(env.get("ENABLE_CACHING", ""), problems),
        api_endpoint=env.get("VERTEX_API_ENDPOINT") or None,
        kfp_repository=get("KFP_REPOSITORY", _KFP_REPOSITORY, for_schedule, "a KFP repository URL"),
        schedule_cron=get("SCHEDULE_CRON", _CRON, for_schedule, "a 5-field cron schedule"),
        notification_emails=tuple(_emails(env.get(NOTIFICATION_EMAILS, ""), problems)),
    )
    if problems:
        raise SettingsError("Vertex AI settings need fixing:\n  - " + "\n  - ".join(problems))
    return settings


def notification_recipients(environ: Mapping[str, str] | None = None) -> list[str]:
    """The addresses in VERTEX_NOTIFICATION_EMAILS ("a@x.com,b@y.com"); [] when unset."""
    env = os.environ if environ is None else environ
    problems: list[str] = []
    emails = _emails(env.get(NOTIFICATION_EMAILS, ""), problems)
    if problems:
        raise SettingsError(problems[0])
    return emails


def _emails(text: str, problems: list[str]) -> list[str]:
    emails = [part.strip() for part in text.split(",") if part.strip()]
    problem = email_list_problem(NOTIFICATION_EMAILS, emails, MAX_NOTIFICATION_EMAILS)
    if problem:
        problems.append(
            f"{problem} Give up to {MAX_NOTIFICATION_EMAILS} comma-separated addresses, e.g. "
            f"{NOTIFICATION_EMAILS}={EXAMPLES[NOTIFICATION_EMAILS]}"
        )
        return []
    return emails


def _labels(text: str, problems: list[str]) -> dict[str, str]:
    labels = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = pair.partition("=")
        if not sep or not _LABEL_KEY.match(key) or not _LABEL_VALUE.match(value):
            problems.append(
                f"PIPELINE_LABELS entry {pair!r} is not key=value in lowercase letters, digits, "
                "'-' or '_' (key starts with a letter), "
                f"e.g. PIPELINE_LABELS={EXAMPLES['PIPELINE_LABELS']}"
            )
        else:
            labels[key] = value
    return labels


def _caching(text: str, problems: list[str]) -> bool | None:
    if not text:
        return None
    if text.lower() not in _TRUE | _FALSE:
        problems.append(f"ENABLE_CACHING={text!r} is not true or false, e.g. ENABLE_CACHING=false")
        return None
    return text.lower() in _TRUE
