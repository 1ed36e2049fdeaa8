"""Notifications: a pipeline whose end (succeeded, failed, stopped) mails the people named.

On Vertex AI a run tells a person that it ended through an exit handler: GCPC's
VertexNotificationEmailOp, which Vertex AI Pipelines itself runs after the rest of the
run, whatever its outcome, and which mails the run's final state and the failed task
to at most three recipients (its executor does nothing off Vertex AI; the emulator
records the notification instead). Locally a person reads the final summary and the
exit code of `make run`; nothing is wrapped.

kfp refuses pipeline outputs returned from inside a dsl.ExitHandler, and the case-study
pipelines return outputs (their artifacts, which the local runner and the tests read).
So the handler wraps the pipeline whole: `with_exit_notification` returns a pipeline of
the same name and parameters whose one step is the original pipeline (a nested DAG of
the same tasks) inside dsl.ExitHandler; the wrapper itself returns nothing. Any
@dsl.pipeline can be wrapped so, the monitoring pipeline too (`target.notifying`).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

from google_cloud_pipeline_components.v1.vertex_notification_email import (
    VertexNotificationEmailOp,
)
from kfp import dsl
from kfp.dsl.graph_component import GraphComponent

from pipelines.vertex.settings import MAX_NOTIFICATION_EMAILS
from trainer.parameter_limits import email_list_problem

NOTIFY_TASK = "notify"
EXIT_HANDLER = "notify-on-exit"
RUN_TASK = "run"


def with_exit_notification(pipeline: GraphComponent, recipients: Sequence[str]) -> GraphComponent:
    """`pipeline` run inside an exit handler that mails `recipients` (1 to 3) when it ends.

    The result has `pipeline`'s name, description and parameters (with their defaults),
    and no outputs. The notification is never taken from cache.
    """
    problem = email_list_problem("recipients", list(recipients), MAX_NOTIFICATION_EMAILS)
    if problem or not recipients:
        raise ValueError(problem or "An exit notification needs at least one recipient.")
    signature = inspect.signature(pipeline.pipeline_func)

    def notifying_pipeline(*args, **kwargs):
        arguments = signature.bind(*args, **kwargs).arguments
        notify = VertexNotificationEmailOp(recipients=list(recipients))
        notify.set_display_name(NOTIFY_TASK).set_caching_options(False)
        with dsl.ExitHandler(notify, name=EXIT_HANDLER):
            pipeline(**arguments).set_display_name(RUN_TASK)

    notifying_pipeline.__signature__ = signature.replace(return_annotation=inspect.Signature.empty)
    notifying_pipeline.__name__ = pipeline.pipeline_func.__name__
    notifying_pipeline.__doc__ = pipeline.pipeline_func.__doc__
    description = pipeline.component_spec.description
    return dsl.pipeline(name=pipeline.name, description=description)(notifying_pipeline)
