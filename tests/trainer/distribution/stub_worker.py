"""A worker for launcher tests that needs no TensorFlow: it acts by its TF_CONFIG index.

    python -m tests.trainer.distribution.stub_worker ACTION_FOR_0 ACTION_FOR_1 ...

Actions: "ok" (print and exit 0), "fail" (exit 3), "hang" (sleep 120 s), "ports"
(print the cluster's addresses).
"""

import json
import os
import sys
import time


def main() -> None:
    config = json.loads(os.environ["TF_CONFIG"])
    index = config["task"]["index"]
    action = sys.argv[1 + index]
    print(f"index {index} doing {action}", flush=True)
    if action == "fail":
        sys.exit(3)
    if action == "hang":
        time.sleep(120)
    if action == "ports":
        print(" ".join(config["cluster"]["worker"]), flush=True)


if __name__ == "__main__":
    main()
