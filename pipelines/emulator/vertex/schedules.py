"""ScheduleService: pipeline schedules, which the emulator runs when asked (`run_now`).

A schedule is stored as Vertex stores it (cron, the CreatePipelineJobRequest
it starts, ACTIVE); the emulator does not keep time, so a run starts when a
test or `make emulator`'s user asks for one (POST
/emulator/v1/<schedule>:runNow), the same request the cron would send.
"""

from __future__ import annotations

import grpc
from google.cloud import aiplatform_v1 as v1
from google.longrunning import operations_pb2
from google.protobuf import empty_pb2

from pipelines.emulator.rpc.rpc import ApiError, Rpc, service_rpcs
from pipelines.emulator.vertex import names
from pipelines.emulator.vertex.listing import matching
from pipelines.emulator.vertex.operations import Operations
from pipelines.emulator.vertex.pipeline_jobs import PipelineService
from pipelines.emulator.vertex.state import EmulatorState, now
from pipelines.emulator.vertex.validation import check_display_name, invalid

SERVICE = "google.cloud.aiplatform.v1.ScheduleService"
_GAPIC = "google.cloud.aiplatform_v1.services.schedule_service"


class ScheduleService:
    def __init__(self, state: EmulatorState, operations: Operations, pipelines: PipelineService):
        self._state, self._operations, self._pipelines = state, operations, pipelines

    def rpcs(self) -> list[Rpc]:
        return service_rpcs(
            SERVICE,
            _GAPIC,
            [
                ("CreateSchedule", v1.CreateScheduleRequest, v1.Schedule, self.create),
                ("GetSchedule", v1.GetScheduleRequest, v1.Schedule, self.get),
                ("ListSchedules", v1.ListSchedulesRequest, v1.ListSchedulesResponse, self.list),
                ("DeleteSchedule", v1.DeleteScheduleRequest, operations_pb2.Operation, self.delete),
                ("PauseSchedule", v1.PauseScheduleRequest, empty_pb2.Empty, self.pause),
                ("ResumeSchedule", v1.ResumeScheduleRequest, empty_pb2.Empty, self.resume),
            ],
        )

    def create(self, request: v1.CreateScheduleRequest) -> v1.Schedule:
        parent = names.check_parent(request.parent, self._state.parent)
        schedule = v1.Schedule(request.schedule)
        check_display_name(schedule.display_name, "Schedule")
        if len(schedule.cron.removeprefix("TZ=").split()) not in (5, 6):
            raise invalid(f"Schedule.cron {schedule.cron!r} is not a cron expression.")
        if "create_pipeline_job_request" not in schedule:
            raise invalid("Schedule.create_pipeline_job_request is required.")
        if schedule.max_concurrent_run_count < 1:
            raise invalid("Schedule.max_concurrent_run_count must be at least 1.")
        schedule.name = f"{parent}/schedules/{self._state.new_id()}"
        schedule.state = v1.Schedule.State.ACTIVE
        schedule.create_time = schedule.update_time = now()
        self._state.add(schedule.name, schedule)
        return v1.Schedule(schedule)

    def get(self, request: v1.GetScheduleRequest) -> v1.Schedule:
        name = names.check_name(request.name, "schedules", self._state.parent)
        with self._state.lock:
            return v1.Schedule(self._state.get(name, "Schedule"))

    def list(self, request: v1.ListSchedulesRequest) -> v1.ListSchedulesResponse:
        parent = names.check_parent(request.parent, self._state.parent)
        with self._state.lock:
            schedules = [v1.Schedule(s) for s in self._state.children(parent, "schedules")]
        return v1.ListSchedulesResponse(
            schedules=matching(schedules, request.filter, request.order_by)
        )

    def delete(self, request: v1.DeleteScheduleRequest):
        name = names.check_name(request.name, "schedules", self._state.parent)
        self._state.delete(name, "Schedule")
        return self._operations.run(name, lambda: None)

    def pause(self, request: v1.PauseScheduleRequest) -> empty_pb2.Empty:
        self._set_state(request.name, v1.Schedule.State.PAUSED)
        return empty_pb2.Empty()

    def resume(self, request: v1.ResumeScheduleRequest) -> empty_pb2.Empty:
        self._set_state(request.name, v1.Schedule.State.ACTIVE)
        return empty_pb2.Empty()

    def run_now(self, name: str) -> v1.PipelineJob:
        """Start the schedule's pipeline run now, as its cron would."""
        names.check_name(name, "schedules", self._state.parent)
        with self._state.lock:
            schedule = self._state.get(name, "Schedule")
            if schedule.state != v1.Schedule.State.ACTIVE:
                raise ApiError(
                    grpc.StatusCode.FAILED_PRECONDITION, f"{name} is {schedule.state.name}."
                )
            template = v1.CreatePipelineJobRequest(schedule.create_pipeline_job_request)
            stamp = now().strftime("%Y%m%d%H%M%S")
            template.pipeline_job_id = f"{names.resource_id(name)}-{stamp}-{self._state.new_id()}"
            template.pipeline_job.schedule_name = name
        job = self._pipelines.create(template)
        with self._state.lock:
            schedule.started_run_count += 1
            schedule.last_scheduled_run_response = {
                "scheduled_run_time": now(),
                "run_response": job.name,
            }
        return job

    def _set_state(self, name: str, state: v1.Schedule.State) -> None:
        names.check_name(name, "schedules", self._state.parent)
        with self._state.lock:
            schedule = self._state.get(name, "Schedule")
            schedule.state = state
            schedule.update_time = now()
