"""Network shapes and the backbone weight options (a local file, none, bad input)."""

import pytest
import torch
from torchvision.models import resnet18

from mepipe.errors import MepipeError
from mepipe_train.models import EIDNet, build_trunk

torch.set_num_threads(1)


def test_eidnet_shapes_at_two_sizes():
    for size in (32, 64):
        net = EIDNet(n_classes=3, n_subjects=5, expr_dim=8, id_dim=4, image_size=size)
        out = net(torch.rand(2, 3, size, size), torch.rand(2, 3, size, size))
        assert out.expr_e.shape == (2, 8) and out.id_n.shape == (2, 4) and out.id_e.shape == (2, 4)
        assert out.logits.shape == (2, 3) and out.subject_logits.shape == (2, 5)
        assert out.recon.shape == (2, 3, size, size)
        assert 0 <= out.recon.min() and out.recon.max() <= 1


def test_backbone_weights_from_a_local_file(tmp_path):
    torch.manual_seed(1)
    source = resnet18()
    path = tmp_path / "trunk.pth"
    torch.save(source.state_dict(), path)
    trunk, features = build_trunk("resnet18", str(path))
    assert features == 512
    assert torch.equal(trunk.conv1.weight, source.conv1.weight)
    with pytest.raises(MepipeError, match="not found"):
        build_trunk("resnet18", str(tmp_path / "missing.pth"))
    torch.save({"something": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(MepipeError, match="not resnet18 weights"):
        build_trunk("resnet18", str(tmp_path / "other.pth"))


def test_garbage_backbone_weights_file_is_named(tmp_path):
    path = tmp_path / "trunk.pth"
    path.write_bytes(b"\x80\x02garbage, not a state dict" * 8)
    with pytest.raises(MepipeError, match="not a valid weights file") as caught:
        build_trunk("resnet18", str(path))
    assert caught.value.path == str(path)
    torch.save([torch.zeros(1)], path)  # loads, but is no state dict
    with pytest.raises(MepipeError, match="not resnet18 weights"):
        build_trunk("resnet18", str(path))
