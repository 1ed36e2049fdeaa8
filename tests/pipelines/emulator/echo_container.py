"""A serving container for the emulator's endpoint tests: a real HTTP server on AIP_HTTP_PORT.

It answers AIP_HEALTH_ROUTE with 200 and AIP_PREDICT_ROUTE with one prediction
per instance naming the deployed model that answered; an instance "bad" gets
a 400, as a model server answers an input it refuses.
"""

import json
import os
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self._answer(200 if self.path == os.environ["AIP_HEALTH_ROUTE"] else 404, {})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != os.environ["AIP_PREDICT_ROUTE"]:
            return self._answer(404, {"error": f"no route {self.path}"})
        if "bad" in body["instances"]:
            return self._answer(400, {"error": "instance 0 is not a number"})
        model = os.environ["AIP_DEPLOYED_MODEL_ID"]
        self._answer(200, {"predictions": [{"model": model, "x": x} for x in body["instances"]]})

    def _answer(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", int(os.environ["AIP_HTTP_PORT"])), Handler).serve_forever()
