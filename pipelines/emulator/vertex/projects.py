"""Cloud Resource Manager's GetProject, which the aiplatform SDK calls before a submit.

The SDK checks that an existing pipeline-root bucket belongs to the
project by comparing project numbers; the emulated project has one.
"""

from __future__ import annotations

import grpc
from google.cloud import resourcemanager_v3

from pipelines.emulator.formats import PROJECT_NUMBER
from pipelines.emulator.rpc.rpc import ApiError, Rpc, gapic_http_rules
from pipelines.emulator.vertex.state import EmulatorState

SERVICE = "google.cloud.resourcemanager.v3.Projects"


class ProjectService:
    def __init__(self, state: EmulatorState):
        self._state = state

    def rpcs(self) -> list[Rpc]:
        return [
            Rpc(
                SERVICE, "GetProject", resourcemanager_v3.GetProjectRequest,
                resourcemanager_v3.Project, self.get,
                gapic_http_rules("google.cloud.resourcemanager_v3.services.projects", "GetProject"),
            )
        ]  # fmt: skip

    def get(self, request: resourcemanager_v3.GetProjectRequest) -> resourcemanager_v3.Project:
        wanted = request.name.removeprefix("projects/")
        if wanted not in (self._state.project, PROJECT_NUMBER):
            raise ApiError(
                grpc.StatusCode.PERMISSION_DENIED,
                f"Project {wanted!r} is not the emulated project {self._state.project!r}.",
            )
        return resourcemanager_v3.Project(
            name=f"projects/{PROJECT_NUMBER}",
            project_id=self._state.project,
            state=resourcemanager_v3.Project.State.ACTIVE,
        )
