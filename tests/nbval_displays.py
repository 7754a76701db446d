"""nbval, taught Jupyter's ``update_display_data``: a display replaced in place is compared as it ends.

nbval 0.11 keeps a cell's ``display_data`` as first sent and ignores every ``update_display_data`` for it
("unhandled iopub msg"), so a wait line shown once and updated until the wait ends (helpers.progress) would
be compared in its first state. JupyterLab, the classic Notebook and nbclient (papermill) replace the
output that has the update's ``display_id``; :func:`install` makes nbval do the same, by wrapping
``IPyNbFile.get_kernel_message``: a ``display_data`` with a display id is remembered, its ``content["data"]``
made a NotebookNode (which nbval then stores as the output's data itself, not a copy), an update replaces that object's contents and is then
passed on as a message of no cell (nbval skips those). tests/unit/test_nbval_displays.py checks nbval still
stores the data object so, and fails loudly if an nbval release changes it.
"""

from __future__ import annotations

from typing import Any

from nbformat.notebooknode import from_dict


def apply_update(message: dict[str, Any], shown: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Remember a display by its id, or apply an update to the display it names; return the message to hand on."""
    kind, content = message.get("msg_type"), message.get("content", {})
    display_id = (content.get("transient") or {}).get("display_id")
    if not display_id:
        return message
    if kind == "display_data":
        # nbval's output is a NotebookNode, which copies a plain dict given to it but keeps a NotebookNode as is
        content["data"], content["metadata"] = from_dict(content.get("data", {})), from_dict(content.get("metadata", {}))
        shown[display_id] = content
    elif kind == "update_display_data" and display_id in shown:
        target = shown[display_id]
        target["data"].clear()
        target["data"].update(content.get("data", {}))
        target["metadata"].clear()
        target["metadata"].update(content.get("metadata", {}))
        return {**message, "parent_header": {}}  # applied: no cell's message now, which nbval passes over
    return message


def install() -> None:
    """Wrap nbval's ``IPyNbFile.get_kernel_message`` (once) so that display updates are applied."""
    from nbval.plugin import IPyNbFile

    original = IPyNbFile.get_kernel_message
    if getattr(original, "applies_display_updates", False):
        return

    def get_kernel_message(self, timeout=None, stream="iopub"):
        message = original(self, timeout=timeout, stream=stream)
        if stream != "iopub":
            return message
        return apply_update(message, self.__dict__.setdefault("_display_updates", {}))

    get_kernel_message.applies_display_updates = True
    IPyNbFile.get_kernel_message = get_kernel_message
