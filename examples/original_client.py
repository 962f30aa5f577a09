"""The example client of the Celery design this service replaces, unchanged.

It posts a form with `source` and `split` to /documents/async/process, then
polls /documents/async/tasks/{task_id} until SUCCESS or FAILURE. Run it
against `npm start`:  python3 examples/original_client.py <url>
"""
import sys
import time

import requests

BASE_URL = "http://localhost:8000"


def process_url(url):
    response = requests.post(
        f"{BASE_URL}/documents/async/process",
        data={"source": url, "split": True},
    )
    response.raise_for_status()
    task_id = response.json()["task_id"]
    print(f"Task submitted: {task_id}")

    while True:
        status = requests.get(f"{BASE_URL}/documents/async/tasks/{task_id}").json()
        if status["status"] == "SUCCESS":
            result = status["result"]
            print(f"Processed {result['document_count']} documents")
            return result
        if status["status"] == "FAILURE":
            print(f"Task failed: {status['error']}")
            return None
        time.sleep(1)


if __name__ == "__main__":
    if len(sys.argv) > 2:
        BASE_URL = sys.argv[2]
    outcome = process_url(sys.argv[1])
    sys.exit(0 if outcome else 1)
