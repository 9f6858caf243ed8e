"""The docs cannot rot: every `mosaicgan` command shown in README.md and docs/*.md names a
subcommand and flags that exist; the README's command table runs, row by row, on small inputs
made here; and the Python examples of the docs run.

Blocks between `<!-- docs-test: commands -->` (a table whose last column holds one command per
row) or `<!-- docs-test: python -->` (a python code block) and `<!-- /docs-test -->` are run.
Training rows run one step at toy size (the flags in TOY_RUNS are appended); everything else
runs as written, from a folder holding photos/, clip.mp4 and unpaired/.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest
from PIL import Image

from helpers import FIXTURES
from mosaicgan.cli import build_parser, main
from mosaicgan.infer.export_onnx import torch_exports_onnx
from video_clips import make_clip

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TOY_RUNS = {
    ("train", "pix2pix"): ["--stop-after", "1", "--load-size", "64", "--crop-size", "64", "--net-g", "unet",
                           "--set", "nets.num_downs=6", "--set", "nets.ngf=8", "--set", "nets.ndf=8", "--workers", "0",
                           "--quiet"],
    ("train", "cyclegan"): ["--stop-after", "1", "--load-size", "32", "--crop-size", "32", "--net-g",
                            "resnet_6blocks", "--set", "nets.ngf=8", "--set", "nets.ndf=8", "--workers", "0",
                            "--quiet"],
    ("train", "srgan"): ["--stop-after", "1", "--set", "srgan.blocks=1", "--set", "srgan.width=8", "--set",
                         "srgan.patch=32", "--set", "srgan.samples_per_epoch=8", "--batch-size", "4", "--workers", "0",
                         "--quiet"],
}


def code_lines(text: str) -> list[str]:
    """The lines of the fenced code blocks that are not Python, backslash continuations joined."""
    lines, block, lang = [], False, ""
    for line in text.splitlines():
        if line.startswith("```"):
            block, lang = not block, line[3:].strip()
            continue
        if block and lang not in ("python", "toml", "json"):
            if lines and lines[-1].endswith("\\"):
                lines[-1] = lines[-1][:-1] + " " + line.strip()
            else:
                lines.append(line)
    return lines


def shown_commands(text: str) -> list[str]:
    """Every `mosaicgan ...` command of a page: in code blocks and in inline code spans."""
    found = []
    for line in code_lines(text):
        line = line.split(" #")[0].strip()
        if re.search(r"(^|\s|/)mosaicgan\s", line + " "):
            found.append(line)
    for span in re.findall(r"`([^`\n]*\bmosaicgan [^`\n]*)`", text):
        found.append(span)
    return found


def subparser_of(parser: argparse.ArgumentParser, words: list[str]) -> tuple[argparse.ArgumentParser, int]:
    """The (sub)parser the words lead to, and how many words named it."""
    used = 0
    while words[used:]:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or words[used] not in subs[0].choices:
            break
        parser = subs[0].choices[words[used]]
        used += 1
    return parser, used


def test_every_command_shown_names_flags_that_exist():
    parser = build_parser()
    problems = []
    checked = 0
    for page in PAGES:
        for command in shown_commands(page.read_text()):
            words = command.replace("[", " ").replace("]", " ").split()
            start = next((k + 1 for k, w in enumerate(words) if w.endswith("mosaicgan")), None)
            if start is None or start >= len(words) or words[start].startswith(("-", "COMMAND", "...")):
                continue
            sub, used = subparser_of(parser, words[start:])
            if used == 0:
                problems.append(f"{page.name}: unknown subcommand in: {command}")
                continue
            known = {s for a in sub._actions for s in a.option_strings}
            for word in words[start + used:]:
                flag = word.split("=")[0].rstrip(",.;:)")
                if flag.startswith("--") and len(flag) > 2 and flag not in known and "|" not in flag:
                    problems.append(f"{page.name}: {flag} is not a flag of `{' '.join(words[start:start + used])}`: "
                                    f"{command}")
            checked += 1
    assert checked > 60  # the pages show many commands; a broken extraction would find few
    assert not problems, "\n".join(problems)


def marked_blocks(text: str, kind: str) -> list[str]:
    return re.findall(rf"<!-- docs-test: {kind} -->\n(.*?)<!-- /docs-test -->", text, re.S)


def table_commands(block: str) -> list[str]:
    """The commands of a two-column table: each row's last cell, one or more `code` spans."""
    commands = []
    for row in block.splitlines()[2:]:
        cell = row.strip().strip("|").split("|")[-1]
        commands.extend(re.findall(r"`(mosaicgan [^`]+)`", cell))
    return commands


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """photos/ (a face, a cat, a small image), media/ (a photo and a video), clip.mp4 (a face moving),
    unpaired/trainA and trainB."""
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(FIXTURES / "face.jpg", photos / "face.jpg")
    shutil.copy(FIXTURES / "cat.jpg", photos / "cat.jpg")
    Image.open(FIXTURES / "bird.jpg").convert("RGB").resize((48, 32)).save(photos / "small.png")
    make_clip(tmp_path / "clip.mp4", width=160, height=120, frames=12, photo="face.jpg", photo_size=72)
    media = tmp_path / "media"
    media.mkdir()
    shutil.copy(FIXTURES / "face.jpg", media / "face.jpg")
    make_clip(media / "walk.mp4", width=160, height=120, frames=10, photo="face.jpg", photo_size=72, seed=1)
    for side, name in (("trainA", "bird.jpg"), ("trainB", "cat.jpg")):
        (tmp_path / "unpaired" / side).mkdir(parents=True)
        for k in range(2):
            Image.open(FIXTURES / name).convert("RGB").resize((40, 40)).rotate(10 * k).save(
                tmp_path / "unpaired" / side / f"{k}.png")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def serve_until_it_answers(argv: list[str], *, work: Path) -> None:
    """`mosaicgan serve` as a process (on a free port, its files in `work`): it must serve the
    page, then stop on Ctrl-C with its folder removed."""
    import signal
    import socket
    import subprocess
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "mosaicgan", *argv, "--port", str(port), "--work", str(work)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
                    assert answer.status == 200 and b"<html" in answer.read().lower()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
                time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert not any(work.iterdir()) if work.exists() else True, (out, err)


@pytest.mark.slow
def test_the_readme_command_table_runs(sandbox, capsys):
    (block,) = marked_blocks((ROOT / "README.md").read_text(), "commands")
    commands = table_commands(block)
    assert len(commands) >= 15
    for command in commands:
        argv = shlex.split(command)[1:]
        if argv[0] == "serve":
            serve_until_it_answers(argv, work=sandbox / "serve-work")
            continue
        argv += TOY_RUNS.get(tuple(argv[:2]), [])
        code = main(argv)
        out, err = capsys.readouterr()
        if argv[0] == "export" and not torch_exports_onnx():  # the floor's torch: the one-line refusal
            assert code == 2 and "needs torch >=" in err and len(err.strip().splitlines()) == 1, err
            continue
        assert code == 0, f"{command}: exit {code}\n{out}\n{err}"
    # What the rows promise, checked on their outputs.
    assert (sandbox / "anonymized" / "face.jpg").is_file() and (sandbox / "clip_anonymized.mp4").is_file()
    assert (sandbox / "anonymized" / "walk.mp4").is_file()  # a folder of photos and videos
    assert (sandbox / "restored" / "face.jpg").is_file()
    assert Image.open(sandbox / "upscaled" / "small.png").size == (192, 128)
    assert (sandbox / "p2p.onnx").is_file() or not torch_exports_onnx()


@pytest.mark.parametrize("page", [p for p in PAGES if "docs-test: python" in p.read_text()], ids=lambda p: p.name)
def test_the_python_examples_run(page, sandbox, capsys):
    for block in marked_blocks(page.read_text(), "python"):
        code = block.split("```python\n", 1)[1].split("```", 1)[0]
        exec(compile(code, f"{page.name} example", "exec"), {"__name__": "docs_example"})
    assert capsys.readouterr().out.strip()


def test_every_doc_page_is_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text()
    missing = [p.name for p in PAGES[1:] if f"docs/{p.name}" not in readme]
    assert not missing, f"not linked from README.md: {missing}"


def test_the_readme_stays_short():
    assert len((ROOT / "README.md").read_text().splitlines()) < 300


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))
