"""docs/pictures.py, which makes the README's pictures, runs as documented and makes each picture
at its size. Like the other browser tests it needs Debian's Chromium, node and npm: skipped
without them, failed under CI=true."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import IN_CI

pytestmark = pytest.mark.slow  # docs/pictures.py in its own process, with Chromium and node

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "docs" / "pictures.py"
# Each picture's size in device pixels: the wall's viewports (the phone's first three screens),
# the two celebrations drawn at twice their CSS size (their height follows their content).
EXPECTED = {
    "wall-desktop.png": (1440, 900),
    "wall-phone.png": (390, 3 * 844),
    "teams-card.png": (2 * 632, None),
    "slack-message.png": (2 * 642, None),
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """A PNG's width and height, from its IHDR chunk (which must come first)."""
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert data[-8:-4] == b"IEND"
    return width, height


def test_the_script_makes_every_picture(tmp_path: Path):
    import shutil

    lacking = [p for p in ("/usr/bin/chromium",) if not Path(p).exists()]
    lacking += [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if lacking:
        reason = f"the pictures need {', '.join(lacking)}"
        if IN_CI:
            pytest.fail(f"{reason}; under CI=true they must be made", pytrace=False)
        pytest.skip(reason)
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for name, (width, height) in EXPECTED.items():
        data = (tmp_path / name).read_bytes()
        shown = png_size(data)
        assert shown[0] == width, (name, shown)
        assert height is None or shown[1] == height, (name, shown)
        assert 10_000 < len(data) < 300_000, (name, len(data))  # drawn, and small for a README
    # The README shows the pictures the script makes, under the same names.
    readme = (ROOT / "README.md").read_text()
    for name in EXPECTED:
        assert f"docs/images/{name}" in readme
