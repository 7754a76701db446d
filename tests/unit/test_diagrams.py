"""State-machine pictures that render untrusted and read: a PNG beside the SVG, and no overlaps.

JupyterLab renders SVG only in trusted notebooks; an untrusted one falls back to a safe type such as
image/png from the same output bundle (https://jupyterlab.readthedocs.io/en/stable/user/notebook.html,
"Trusting Content").
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import matplotlib.image
import pytest
from fresh_python import printed_lines

from helpers import diagrams, stepfunctions
from helpers.paths import NOTEBOOKS_DIR, STATEMACHINES_DIR

VALUES = {name: f"arn:aws:lambda:eu-west-1:123456789012:function:{name}" for name in (
    "FetchFunctionArn", "StartPreprocessingFunctionArn", "StartTrainingFunctionArn", "SageMakerRoleArn",
    "PreprocessImageUri", "JobsImageUri", "TrainingImageUri", "JobNamePrefix", "EndpointName",
    "ProcessingInstanceType", "TrainingInstanceType", "TransformInstanceType", "EndpointInstanceType")}


def gated() -> dict:
    """06's definition: the pipeline continued into evaluate-and-deploy."""
    return stepfunctions.extend(stepfunctions.load_definition("pipeline", **VALUES),
                                stepfunctions.load_definition("evaluate_deploy", **VALUES), after="Train")


def definitions() -> dict[str, dict]:
    found = {path.name.removesuffix(".asl.json"): stepfunctions.load_definition(path.name.removesuffix(".asl.json"),
                                                                                 **VALUES)
             for path in STATEMACHINES_DIR.glob("*.asl.json")}
    return {**found, "gated": gated()}


class TestPngBesideSvg:
    """show_state_machine gives a bundle with SVG and PNG of the same size."""

    @pytest.mark.parametrize("name", sorted(definitions()))
    def test_bundle_has_a_png_of_the_svgs_size(self, name):
        """
        1. Display a state machine (as a notebook does): its mime bundle.
        2. It has image/svg+xml, image/png and text/plain; the PNG decodes, with the SVG's width and height.
        """
        bundle = diagrams.show_state_machine(definitions()[name], name)._repr_mimebundle_()
        assert {"image/svg+xml", "image/png", "text/plain"} <= set(bundle)
        pixels = matplotlib.image.imread(io.BytesIO(base64.b64decode(bundle["image/png"])), format="png")
        geometry = diagrams._geometry(definitions()[name], name)
        assert pixels.shape[:2] == (round(geometry.height), round(geometry.width))
        assert f'width="{geometry.width}"' in bundle["image/svg+xml"]


class TestPngDrawing:
    """The PNG is drawn from the geometry with Pillow, without importing matplotlib (~0.25 s a notebook)."""

    def test_boxes_are_filled_in_their_type_colour(self):
        """
        1. Draw 06's gated pipeline as PNG.
        2. Inside each box, away from its text, the pixel has the box type's colour (Task blue, Choice yellow,
           Fail red, ...); between the columns, white.
        """
        from PIL import Image

        geometry = diagrams._geometry(gated(), "gated")
        image = Image.open(io.BytesIO(diagrams.state_machine_png(gated(), "gated"))).convert("RGB")
        for name, (x, y, kind, _) in geometry.boxes.items():
            colour = diagrams._COLOURS.get(kind, "#f3f4f6")
            expected = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
            assert image.getpixel((round(x + 6), round(y + diagrams._HEIGHT / 2))) == expected, name
        assert image.getpixel((round(geometry.width) - 3, round(geometry.height) - 3)) == (255, 255, 255)

    def test_drawing_does_not_import_matplotlib(self):
        """
        1. In a fresh Python, draw the pipeline's picture (both formats, as a notebook shows it).
        2. matplotlib was not imported.
        """
        code = ("import sys\n"
                "from helpers import diagrams, stepfunctions\n"
                f"values = {VALUES!r}\n"
                "bundle = diagrams.show_state_machine(stepfunctions.load_definition('pipeline', **values), 'p')\n"
                "bundle._repr_mimebundle_()\n"
                "print('matplotlib' in sys.modules)\n")
        assert printed_lines(code) == ["False"]


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    """Open rectangles (x0, y0, x1, y1) share an inner point."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


class TestNoOverlaps:
    """06's picture (the biggest) has no box over a box, no label over a box and no edge through a box."""

    @pytest.mark.parametrize("name", sorted(definitions()))
    def test_boxes_labels_and_edges_keep_apart(self, name):
        """
        1. Compute the picture's geometry.
        2. No two boxes overlap; no label (11 px text, ~7 px a character) overlaps a box.
        3. Every edge segment is horizontal or vertical and passes through no box's inside.
        """
        g = diagrams._geometry(definitions()[name], "")
        boxes = {n: (x, y, x + diagrams._WIDTH, y + diagrams._HEIGHT) for n, (x, y, *_) in g.boxes.items()}
        names = sorted(boxes)
        for i, first in enumerate(names):
            for second in names[i + 1:]:
                assert not _overlaps(boxes[first], boxes[second]), (first, second)
        for x, y, text, anchor in g.labels:
            width = 7 * len(text)
            label = (x, y - 11, x + width, y) if anchor == "start" else (x - width, y - 11, x, y)
            assert not any(_overlaps(label, box) for box in boxes.values()), text
        for points, _ in g.edges:
            for (x0, y0), (x1, y1) in zip(points, points[1:]):
                assert x0 == x1 or y0 == y1, points
                segment = (min(x0, x1) - 0.01, min(y0, y1) - 0.01, max(x0, x1) + 0.01, max(y0, y1) + 0.01)
                inside = [n for n, (bx0, by0, bx1, by1) in boxes.items()
                          if _overlaps(segment, (bx0 + 1, by0 + 1, bx1 - 1, by1 - 1))]
                assert not inside, (points, inside)


class TestCommittedNotebooks:
    """Every committed notebook's diagrams render untrusted: each SVG output has a PNG beside it."""

    @pytest.mark.parametrize("path", sorted(NOTEBOOKS_DIR.glob("*.ipynb")), ids=lambda p: p.name)
    def test_every_svg_output_has_a_png(self, path: Path):
        """
        1. Read the committed notebook.
        2. Every output carrying image/svg+xml also carries image/png.
        """
        notebook = json.loads(path.read_text())
        outputs = [o for c in notebook["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
        svg_only = [o for o in outputs if "image/svg+xml" in o.get("data", {}) and "image/png" not in o["data"]]
        assert not svg_only, f"{path.name}: {len(svg_only)} SVG output(s) without a PNG (re-execute: make notebooks)"
