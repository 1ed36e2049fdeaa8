"""ModelService: Model Registry with versions under a parent model and version aliases.

Each version is stored as `<model>@<version_id>`. A model name alone means
its default version (alias `default`, the first version unless an upload
moves it); `@<alias>` and `@<version_id>` pick a version, as in Vertex.
"""

from __future__ import annotations

import grpc
from google.cloud import aiplatform_v1 as v1

from pipelines.emulator.rpc.rpc import ApiError, Rpc, service_rpcs
from pipelines.emulator.vertex import names
from pipelines.emulator.vertex.listing import matching
from pipelines.emulator.vertex.operations import Operations
from pipelines.emulator.vertex.state import EmulatorState, now
from pipelines.emulator.vertex.validation import check_model

SERVICE = "google.cloud.aiplatform.v1.ModelService"
_GAPIC = "google.cloud.aiplatform_v1.services.model_service"
DEFAULT_ALIAS = "default"


class ModelService:
    def __init__(self, state: EmulatorState, operations: Operations):
        self._state, self._operations = state, operations

    def rpcs(self) -> list[Rpc]:
        from google.longrunning import operations_pb2

        return service_rpcs(SERVICE, _GAPIC, [
            ("UploadModel", v1.UploadModelRequest, operations_pb2.Operation, self.upload),
            ("GetModel", v1.GetModelRequest, v1.Model, self.get),
            ("ListModels", v1.ListModelsRequest, v1.ListModelsResponse, self.list),
            (
                "ListModelVersions", v1.ListModelVersionsRequest, v1.ListModelVersionsResponse,
                self.list_versions,
            ),
            ("MergeVersionAliases", v1.MergeVersionAliasesRequest, v1.Model, self.merge_aliases),
        ])  # fmt: skip

    def upload(self, request: v1.UploadModelRequest):
        parent = names.check_parent(request.parent, self._state.parent)
        model = v1.Model(request.model)
        check_model(model)
        with self._state.lock:
            if request.parent_model:
                base = names.check_name(request.parent_model, "models", parent)
                versions = self.versions(base)
                version_id = str(max(int(v.version_id) for v in versions) + 1)
            else:
                base = f"{parent}/models/{request.model_id or self._state.new_id()}"
                versions, version_id = [], "1"
            aliases = list(dict.fromkeys(model.version_aliases))
            if not versions and DEFAULT_ALIAS not in aliases:
                aliases.insert(0, DEFAULT_ALIAS)
            for other in versions:  # an alias names one version: it moves to the new one
                kept = [a for a in other.version_aliases if a not in aliases]
                other.version_aliases = kept
            stamp = now()
            model.name = base
            model.version_id = version_id
            model.version_aliases = aliases
            model.create_time = versions[0].create_time if versions else stamp
            model.version_create_time = model.update_time = model.version_update_time = stamp
            self._state.add(f"{base}@{version_id}", model)
        response = v1.UploadModelResponse(model=base, model_version_id=version_id)
        return self._operations.run(base, lambda: response)

    def versions(self, base: str) -> list[v1.Model]:
        """Every version of the model `base` (no @), oldest first; NOT_FOUND if none."""
        with self._state.lock:
            found = [m for n, m in self._state.resources.items() if n.startswith(f"{base}@")]
        if not found:
            raise ApiError(grpc.StatusCode.NOT_FOUND, f"Model {base} is not found.")
        return sorted(found, key=lambda m: int(m.version_id))

    def resolve(self, name: str) -> v1.Model:
        """The version `name` means: model, model@version_id or model@alias."""
        base, _, ref = names.check_name(name, "models", self._state.parent).partition("@")
        ref = ref or DEFAULT_ALIAS
        for version in self.versions(base):
            if version.version_id == ref or ref in version.version_aliases:
                return version
        raise ApiError(grpc.StatusCode.NOT_FOUND, f"Model {name} is not found.")

    def get(self, request: v1.GetModelRequest) -> v1.Model:
        with self._state.lock:
            return v1.Model(self.resolve(request.name))

    def list(self, request: v1.ListModelsRequest) -> v1.ListModelsResponse:
        parent = names.check_parent(request.parent, self._state.parent)
        with self._state.lock:
            bases = {n.partition("@")[0] for n in self._state.resources if "/models/" in n}
            defaults = [
                v1.Model(self.resolve(b)) for b in sorted(bases) if b.startswith(f"{parent}/")
            ]
        return v1.ListModelsResponse(
            models=matching(defaults, request.filter, request.order_by or "create_time")
        )

    def list_versions(self, request: v1.ListModelVersionsRequest) -> v1.ListModelVersionsResponse:
        base = names.check_name(request.name, "models", self._state.parent).partition("@")[0]
        with self._state.lock:
            versions = [v1.Model(v) for v in self.versions(base)]
        return v1.ListModelVersionsResponse(
            models=matching(versions, request.filter, request.order_by)
        )

    def merge_aliases(self, request: v1.MergeVersionAliasesRequest) -> v1.Model:
        """`alias` adds (moving it from another version), `-alias` removes."""
        with self._state.lock:
            target = self.resolve(request.name)
            for change in request.version_aliases:
                alias = change.removeprefix("-")
                if change.startswith("-"):
                    if alias == DEFAULT_ALIAS:
                        raise ApiError(
                            grpc.StatusCode.INVALID_ARGUMENT,
                            "The default alias cannot be removed; add it to another version.",
                        )
                    target.version_aliases = [a for a in target.version_aliases if a != alias]
                    continue
                for other in self.versions(target.name):
                    other.version_aliases = [a for a in other.version_aliases if a != alias]
                target.version_aliases = [*target.version_aliases, alias]
            target.version_update_time = now()
            return v1.Model(target)
