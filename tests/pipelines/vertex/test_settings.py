"""Vertex AI settings: read from the environment, every problem named with an example."""

import pytest

from pipelines.vertex.settings import SettingsError, load_settings

VALID = {"GOOGLE_CLOUD_PROJECT": "my-project", "PIPELINE_ROOT": "gs://my-bucket/root/"}


def test_valid_settings_with_defaults():
    settings = load_settings(VALID)
    assert settings.project == "my-project"
    assert settings.region == "us-central1"
    assert settings.pipeline_root == "gs://my-bucket/root"
    assert settings.enable_caching is None and settings.labels == {}
    assert not settings.uses_loopback


def test_optional_settings_are_parsed():
    settings = load_settings(
        {
            **VALID,
            "VERTEX_REGION": "europe-west4",
            "PIPELINE_LABELS": "team=ml, env=dev",
            "ENABLE_CACHING": "False",
            "VERTEX_API_ENDPOINT": "http://127.0.0.1:8080",
            "VERTEX_SERVICE_ACCOUNT": "pipelines@my-project.iam.gserviceaccount.com",
            "VERTEX_ENDPOINT_SERVICE_ACCOUNT": "serving@my-project.iam.gserviceaccount.com",
            "VERTEX_NOTIFICATION_EMAILS": " ml-team@example.com, oncall@example.co.uk ",
        }
    )
    assert settings.endpoint_service_account == "serving@my-project.iam.gserviceaccount.com"
    assert settings.notification_emails == ("ml-team@example.com", "oncall@example.co.uk")
    assert settings.region == "europe-west4"
    assert settings.labels == {"team": "ml", "env": "dev"}
    assert settings.enable_caching is False
    assert settings.uses_loopback


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GOOGLE_CLOUD_PROJECT": ""}, "GOOGLE_CLOUD_PROJECT is not set.*=my-project"),
        ({"PIPELINE_ROOT": "/tmp/root"}, "PIPELINE_ROOT='/tmp/root' is not a gs:// URI.*=gs://"),
        ({"PIPELINE_ROOT": "s3://bucket"}, "PIPELINE_ROOT='s3://bucket' is not a gs:// URI"),
        ({"PIPELINE_ROOT": ""}, "PIPELINE_ROOT is not set"),
        ({"PIPELINE_ROOT": "gs://b/runs"}, "'gs://b/runs' does not start with a valid bucket name"),
        ({"GOOGLE_CLOUD_PROJECT": "My Project"}, "'My Project' is not a Google Cloud project id"),
        ({"VERTEX_REGION": "us central"}, "VERTEX_REGION='us central'.*=us-central1"),
        ({"PIPELINE_LABELS": "Team=ML"}, "PIPELINE_LABELS entry 'Team=ML'"),
        ({"PIPELINE_LABELS": "team"}, "PIPELINE_LABELS entry 'team' is not key=value"),
        ({"ENABLE_CACHING": "maybe"}, "ENABLE_CACHING='maybe' is not true or false"),
        ({"VERTEX_SERVICE_ACCOUNT": "me@gmail.com"}, "VERTEX_SERVICE_ACCOUNT='me@gmail.com'"),
        ({"VERTEX_ENDPOINT_SERVICE_ACCOUNT": "x"}, "VERTEX_ENDPOINT_SERVICE_ACCOUNT='x' is not an"),
        ({"VERTEX_NETWORK": "my-vpc"}, "VERTEX_NETWORK='my-vpc'.*projects/123456789/global"),
        (
            {"VERTEX_NOTIFICATION_EMAILS": "ml-team"},
            r"VERTEX_NOTIFICATION_EMAILS has \['ml-team'\], which are not email addresses.*"
            "=ml-team@example.com,oncall@example.com",
        ),
        (
            {"VERTEX_NOTIFICATION_EMAILS": "a@x.com,b@x.com,c@x.com,d@x.com"},
            "VERTEX_NOTIFICATION_EMAILS has 4 addresses; Vertex AI mails at most 3",
        ),
    ],
)
def test_bad_settings_name_the_variable_and_an_example(env, message):
    with pytest.raises(SettingsError, match=f"(?s){message}"):
        load_settings({**VALID, **env})


def test_every_problem_is_reported_at_once():
    with pytest.raises(SettingsError) as error:
        load_settings({"PIPELINE_ROOT": "bucket", "ENABLE_CACHING": "sometimes"})
    text = str(error.value)
    for name in ("GOOGLE_CLOUD_PROJECT", "PIPELINE_ROOT", "ENABLE_CACHING"):
        assert name in text


def test_scheduling_needs_a_repository_and_a_cron():
    with pytest.raises(
        SettingsError, match=r"(?s)KFP_REPOSITORY is not set.*SCHEDULE_CRON is not set"
    ):
        load_settings(VALID, for_schedule=True)
    with pytest.raises(SettingsError, match="SCHEDULE_CRON='every monday'"):
        load_settings(
            {**VALID, "KFP_REPOSITORY": "https://us-central1-kfp.pkg.dev/my-project/pipelines",
             "SCHEDULE_CRON": "every monday"},
            for_schedule=True,
        )  # fmt: skip
    with pytest.raises(SettingsError, match=r"KFP_REPOSITORY='us-docker\.pkg\.dev/p/r'"):
        load_settings(
            {**VALID, "KFP_REPOSITORY": "us-docker.pkg.dev/p/r", "SCHEDULE_CRON": "0 3 * * *"},
            for_schedule=True,
        )
    settings = load_settings(
        {**VALID, "KFP_REPOSITORY": "https://us-central1-kfp.pkg.dev/my-project/pipelines",
         "SCHEDULE_CRON": "TZ=America/New_York 30 2 * * 1-5"},
        for_schedule=True,
    )  # fmt: skip
    assert settings.schedule_cron == "TZ=America/New_York 30 2 * * 1-5"
