"""Instances checked by the online server's own rules: the request format
(serving.server.request_format) and the request limits (an image's header, its pixels). A
batch is checked whole, as a request is; when it fails, each instance alone, so that one
bad row is that row's error and not the batch's."""

from __future__ import annotations

import numpy as np

from serving.server.loaded_model import LoadedModel
from serving.server.request_format import RequestError, parse_predict
from serving.server.request_limits import RequestLimits, check_batch

_LIMITS = RequestLimits()


def checked_instance(model: LoadedModel, instance: object) -> np.ndarray:
    """`instance` as the model's input row (its batch of one); RequestError saying why not."""
    try:
        request = parse_predict({"instances": [instance]}, model.input, columnar_allowed=False)
        check_batch(_LIMITS, model, request.batch)
    except RecursionError:
        raise RequestError(400, "the instance nests lists or objects too deeply.") from None
    except RequestError as exc:
        raise RequestError(exc.status, _without_index(str(exc))) from None
    return request.batch


def checked_batch(
    model: LoadedModel, instances: list[object]
) -> tuple[list[object], np.ndarray | None, list[tuple[object, RequestError]]]:
    """(the good instances, their input batch, each bad instance with why): the whole batch
    is checked at once, as the server checks a request, and one instance at a time only when
    that fails, to find which are bad."""
    try:
        request = parse_predict({"instances": instances}, model.input, columnar_allowed=False)
        check_batch(_LIMITS, model, request.batch)
        return instances, request.batch, []
    except (RequestError, RecursionError):
        pass
    good, rows, bad = [], [], []
    for instance in instances:
        try:
            rows.append(checked_instance(model, instance))
            good.append(instance)
        except RequestError as exc:
            bad.append((instance, exc))
    return good, (np.concatenate(rows) if rows else None), bad


def _without_index(message: str) -> str:
    """The server's message names the instance's place in its request; here there is one."""
    if message.startswith("instance 0: "):
        return message.removeprefix("instance 0: ")
    return message.replace("instance 0 ", "the instance ", 1)
