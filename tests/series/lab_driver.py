"""Open a notebook in a running JupyterLab and run its code cells in the kernel Lab starts.

Run with the lab venv's Python (it has websocket-client):
    .venv-lab/bin/python tests/series/lab_driver.py http://127.0.0.1:PORT TOKEN 01_bucket.ipynb NOTEBOOK_FILE
Prints one line per cell; exits 1 on the first cell that fails, with its error.
"""

import json
import sys
import urllib.request
import uuid

import nbformat
import websocket


def main() -> int:
    base, token, name, path = sys.argv[1:5]
    auth = {"Authorization": f"token {token}"}
    request = urllib.request.Request(f"{base}/api/sessions", method="POST",
                                     headers={"Content-Type": "application/json", **auth},
                                     data=json.dumps({"path": name, "name": name, "type": "notebook",
                                                      "kernel": {"name": "python3"}}).encode())
    kernel = json.load(urllib.request.urlopen(request, timeout=60))["kernel"]["id"]
    channel = websocket.create_connection(f"ws{base[4:]}/api/kernels/{kernel}/channels", timeout=180,
                                          header=[f"Authorization: token {token}"])
    session = uuid.uuid4().hex
    cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    for number, cell in enumerate(cells, 1):
        msg_id = uuid.uuid4().hex
        channel.send(json.dumps({
            "header": {"msg_id": msg_id, "username": "test", "session": session, "msg_type": "execute_request",
                       "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": cell.source, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        while True:
            message = json.loads(channel.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if message["msg_type"] == "error":
                print(f"cell {number} FAILED: {message['content']['ename']}: {message['content']['evalue']}")
                return 1
            if message["msg_type"] == "execute_reply":
                print(f"cell {number}: {message['content']['status']}")
                if message["content"]["status"] != "ok":
                    return 1
                break
    urllib.request.urlopen(urllib.request.Request(f"{base}/api/kernels/{kernel}", method="DELETE", headers=auth), timeout=30)
    print(f"all {len(cells)} code cells ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
