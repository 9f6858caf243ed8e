import importlib.util

import numpy as np
import pytest
import torch

from mosaicgan.checkpoint import save_checkpoint
from mosaicgan.cli import main
from mosaicgan.infer import export_onnx as export_module
from mosaicgan.infer.translate.translator import Translator, pad_to_multiple
from mosaicgan.nets.registry import get_net

HAVE_EXPORTER = all(importlib.util.find_spec(name) for name in ("onnx", "onnxscript"))
HAVE_ORT = importlib.util.find_spec("onnxruntime") is not None
needs_onnx = pytest.mark.skipif(not (HAVE_EXPORTER and HAVE_ORT),
                                reason="onnx, onnxscript and onnxruntime are optional: pip install 'mosaicgan[onnx]'")
needs_torch = pytest.mark.skipif(not export_module.torch_exports_onnx(),
                                 reason=f"the export needs torch >= {export_module.MIN_TORCH} "
                                        f"(this is {torch.__version__})")
# float32 kernels of two engines: the same sums in another order.
TOLERANCE = 1e-4


def session(path):
    import onnxruntime

    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def max_diff(sess, net, x):
    with torch.no_grad():
        ref = net(x).numpy()
    got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    assert got.shape == ref.shape
    return float(np.abs(got - ref).max())


@needs_onnx
@needs_torch
@pytest.mark.slow
def test_pix2pix_generator_matches_torch_at_other_sizes_and_batches(capsys, tiny_run, tmp_path):
    out = tmp_path / "g.onnx"
    assert main(["export", str(tiny_run), "--format", "onnx", "--out", str(out)]) == 0
    assert "onnxruntime matches PyTorch" in capsys.readouterr().out
    translator = Translator.from_checkpoint(tiny_run, precision="fp32")  # the exported graph is float32
    sess = session(out)
    for shape in [(1, 3, 32, 32), (2, 3, 64, 96), (3, 3, 160, 32)]:  # multiples of 32, the 5-level U-Net's
        assert max_diff(sess, translator.net, torch.rand(*shape) * 2 - 1) < TOLERANCE
    # How a caller without torch uses it: pad to the multiple, run, crop; the same as translate.
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(out), load_external_data=False).metadata_props}
    assert meta["mosaicgan.kind"] == "pix2pix" and meta["mosaicgan.size_multiple"] == "32"
    x = torch.rand(1, 3, 45, 70) * 2 - 1
    padded, (top, left, h, w) = pad_to_multiple(x, int(meta["mosaicgan.size_multiple"]))
    y = sess.run(None, {"image": padded.numpy()})[0][..., top : top + h, left : left + w]
    assert np.abs(y - translator(x).numpy()).max() < TOLERANCE


@needs_onnx
@needs_torch
@pytest.mark.slow
def test_cyclegan_generator_with_instance_norm_and_the_restorer_match_torch(capsys, tmp_path):
    nets = {key: get_net("resnet_6blocks", ngf=8) for key in ("gen_ab", "gen_ba")}
    for net in nets.values():
        net.eval()
    ckpt = save_checkpoint(tmp_path / "c.safetensors", kind="cyclegan", nets=nets, config={})
    assert main(["export", str(ckpt), "--direction", "BtoA", "--out", str(tmp_path / "ba.onnx")]) == 0
    sess = session(tmp_path / "ba.onnx")
    for shape in [(1, 3, 36, 44), (2, 3, 52, 40)]:
        assert max_diff(sess, nets["gen_ba"], torch.rand(*shape) * 2 - 1) < TOLERANCE

    from mosaicgan.checkpoint import load_checkpoint
    from mosaicgan.infer.remove.restorer import shipped_restorer_path

    assert main(["export", str(shipped_restorer_path()), "--out", str(tmp_path / "r.onnx")]) == 0
    restorer = load_checkpoint(shipped_restorer_path(), kind="restorer").nets["restorer"].float()
    features = torch.rand(2, 7, 6, 9) * 2 - 1
    features[:, 3:5] = (features[:, 3:5] > 0).float()  # mask share and the fully-inside flag
    assert max_diff(session(tmp_path / "r.onnx"), restorer, features) < TOLERANCE


def test_export_refusals_name_the_problem_and_write_nothing(capsys, tiny_run, tmp_path, monkeypatch):
    out = tmp_path / "g.onnx"
    assert main(["export", str(tiny_run), "--out", str(tmp_path / "g.pt")]) == 2
    assert "ending in .onnx" in capsys.readouterr().err
    out.write_bytes(b"keep")
    assert main(["export", str(tiny_run), "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err and out.read_bytes() == b"keep"
    classifier = save_checkpoint(tmp_path / "k.safetensors", kind="classifier",
                                 nets={"classifier": get_net("unet", num_downs=2, ngf=4)}, config={})
    assert main(["export", str(classifier), "--out", str(tmp_path / "k.onnx")]) == 2
    assert "no generator to export" in capsys.readouterr().err
    monkeypatch.setattr(export_module, "missing_packages", lambda names=export_module.EXPORTER_PACKAGES: [])
    monkeypatch.setattr(torch, "__version__", torch.torch_version.TorchVersion("2.6.0"))
    assert main(["export", str(tiny_run), "--out", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert "needs torch >= 2.7" in err and "this is torch 2.6.0" in err and len(err.splitlines()) == 1, err
    monkeypatch.undo()
    monkeypatch.setattr(export_module, "missing_packages", lambda names=export_module.EXPORTER_PACKAGES: list(names))
    assert main(["export", str(tiny_run), "--out", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert "needs the onnx and onnxscript packages" in err and "mosaicgan[onnx]" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.onnx", "k.safetensors"]


@needs_onnx
@needs_torch
@pytest.mark.slow
def test_a_graph_that_disagrees_with_torch_is_not_written(capsys, tiny_run, tmp_path, monkeypatch):
    monkeypatch.setattr(export_module, "onnxruntime_max_diff", lambda exported, path=None: 0.5)
    assert main(["export", str(tiny_run), "--out", str(tmp_path / "g.onnx")]) == 2
    assert "differs from PyTorch" in capsys.readouterr().err and list(tmp_path.iterdir()) == []

    def fails(exported, path=None):  # what onnxruntime said of a graph with its batch fixed at 1
        raise RuntimeError("[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Got invalid dimensions for input: image")

    monkeypatch.setattr(export_module, "onnxruntime_max_diff", fails)
    assert main(["export", str(tiny_run), "--out", str(tmp_path / "g.onnx")]) == 2
    err = capsys.readouterr().err
    assert "onnxruntime cannot run the exported graph" in err and "invalid dimensions" in err, err
    assert len(err.splitlines()) == 1 and list(tmp_path.iterdir()) == []

    monkeypatch.setattr(export_module, "fixed_axes", lambda shape: ["batch"])  # as torch 2.8 did, silently
    assert main(["export", str(tiny_run), "--out", str(tmp_path / "g.onnx")]) == 2
    err = capsys.readouterr().err
    assert "exporter fixed the batch of the graph's 'image'" in err and len(err.splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []


@needs_onnx
def test_fixed_axes_are_the_numbers_among_batch_height_and_width():
    ir = pytest.importorskip("onnx_ir")  # torch's exporter's graph classes (onnxscript needs them)

    assert export_module.fixed_axes(ir.Shape([ir.SymbolicDim("batch"), 3, ir.SymbolicDim("height"),
                                              ir.SymbolicDim(None)])) == []
    assert export_module.fixed_axes(ir.Shape([1, 3, ir.SymbolicDim("height"), 64])) == ["batch", "width"]
    assert export_module.fixed_axes(ir.Shape([2, 3])) == ["batch"] and export_module.fixed_axes(None) == []
