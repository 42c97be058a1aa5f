"""The user guide's examples run: every ```python block of docs/guide.md, in order, in one namespace
(as a reader would run them in one Python program), inside a temporary directory so that the files they
write land there. Shell blocks (```bash) are not run."""

import re
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guide.md"
FENCE = re.compile(r"^```(\w*)[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def sections() -> list[tuple[str, list[tuple[str, str]]]]:
    """Each level-2 heading of the guide with its fenced blocks, as (language, code)."""
    text = GUIDE.read_text(encoding="utf-8")
    parts = re.split(r"^## +(.+)$", text, flags=re.MULTILINE)
    return [(heading.strip(), FENCE.findall(body)) for heading, body in zip(parts[1::2], parts[2::2])]


def python_blocks() -> list[str]:
    return [code for _, blocks in sections() for language, code in blocks if language == "python"]


def test_every_section_has_a_python_example():
    found = sections()
    assert len(found) >= 9, [heading for heading, _ in found]
    missing = [heading for heading, blocks in found if not any(language == "python" for language, _ in blocks)]
    assert not missing, f"sections without a ```python block: {missing}"


def test_every_fence_is_python_or_bash():
    languages = {language for _, blocks in sections() for language, _ in blocks}
    assert languages <= {"python", "bash"}, languages


@pytest.mark.filterwarnings("ignore:AnalogSGD. skipped a step")  # the guide shows this warning on purpose
def test_guide_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__guide__"}
    blocks = python_blocks()
    assert blocks
    for number, code in enumerate(blocks, 1):
        first_line = next((line for line in code.splitlines() if line.strip()), "")
        try:
            exec(compile(code, f"docs/guide.md, python block {number}", "exec"), namespace)
        except Exception as error:
            pytest.fail(f"python block {number} ({first_line!r}) failed: {type(error).__name__}: {error}")
    assert (tmp_path / "in_situ.pt").is_file()
