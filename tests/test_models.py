"""The regressors, the stacked FCN ensemble and the per-member Adam (issue 3, points 1 and 3)."""

from __future__ import annotations

import pytest
import torch
import yaml

from conftest import TINY
from regscale import config as study_config
from regscale.ensemble import FCNEnsemble, MemberAdam, SingleModel
from regscale.archs import build_model, check_size
from regscale.models import count_parameters, fcn

CPU = torch.device("cpu")
PAPER_IMAGE = (2, 100, 100)


def fcn_parameters(width, depth, n_in, n_out=1):
    return (n_in + 1) * width + (depth - 1) * (width + 1) * width + (width + 1) * n_out


@pytest.mark.parametrize("width,depth", [(4, 3), (16, 1), (16, 5), (512, 3)])
def test_fcn_parameter_count_follows_the_formula(width, depth):
    model = build_model("fcn", {"width": width, "depth": depth}, PAPER_IMAGE, 1)
    assert count_parameters(model) == fcn_parameters(width, depth, 20000)


def test_paper_fcn_sweep_spans_the_papers_model_sizes():
    """n_l = 3, n_n = 4 ... 512 on 2 x 100 x 100 images: about 8e4 to 1e7 parameters."""
    sizes = [count_parameters(build_model("fcn", {"width": w, "depth": 3}, PAPER_IMAGE, 1)) for w in (4, 512)]
    assert 7.5e4 < sizes[0] < 8.5e4
    assert 0.9e7 < sizes[1] < 1.2e7


@pytest.mark.parametrize(
    "arch,size",
    [
        ("fcn", {"width": 8, "depth": 2}),
        ("resnet18", {"width": 4}),
        ("vit", {"patch": 4, "dim": 16, "depth": 1, "heads": 2}),
    ],
)
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_every_architecture_maps_images_to_one_output_per_target(arch, size, n_outputs):
    model = build_model(arch, size, (2, 16, 16), n_outputs)
    assert model(torch.randn(5, 2, 16, 16)).shape == (5, n_outputs)
    assert count_parameters(model) == sum(p.numel() for p in model.parameters())


def test_resnet_width_scales_every_stage_and_64_is_the_standard_net():
    from torchvision.models import resnet18

    standard = count_parameters(resnet18(num_classes=1))
    ours = build_model("resnet18", {"width": 64}, (2, 32, 32), 1)
    # The stem takes 2 channels in a 3 x 3 kernel instead of 3 channels in 7 x 7.
    assert count_parameters(ours) == standard - 64 * 3 * 7 * 7 + 64 * 2 * 3 * 3
    narrow = build_model("resnet18", {"width": 8}, (2, 32, 32), 1)
    assert [narrow.layer1[0].conv1.out_channels, narrow.layer4[1].conv2.out_channels, narrow.fc.in_features] == [
        8,
        64,
        64,
    ]


def test_resnet_stem_suits_the_image_size():
    small = build_model("resnet18", {"width": 8}, (2, 32, 32), 1)
    assert small.conv1.kernel_size == (3, 3) and small.conv1.stride == (1, 1)
    assert isinstance(small.maxpool, torch.nn.Identity)
    large = build_model("resnet18", {"width": 8}, PAPER_IMAGE, 1)
    assert large.conv1.kernel_size == (7, 7) and large.conv1.stride == (2, 2) and large.conv1.in_channels == 2
    assert isinstance(large.maxpool, torch.nn.MaxPool2d)


def test_vit_takes_its_size_from_the_config():
    model = build_model("vit", {"patch": 5, "dim": 24, "depth": 2, "heads": 3}, PAPER_IMAGE, 2)
    assert model.patch_embed.num_patches == 400
    assert len(model.blocks) == 2 and model.blocks[0].attn.num_heads == 3 and model.head.out_features == 2


@pytest.mark.parametrize(
    "arch,size,message",
    [
        ("mlp", {"width": 4}, "unknown architecture 'mlp'"),
        ("fcn", {"width": 4}, "expected exactly the keys"),
        ("fcn", {"width": 0, "depth": 3}, "width must be a positive integer"),
        ("vit", {"patch": 5, "dim": 16, "depth": 1, "heads": 2}, "patch 5 does not divide the 16 x 16 image"),
        ("vit", {"patch": 4, "dim": 15, "depth": 1, "heads": 2}, "dim 15 is not a multiple of heads 2"),
    ],
)
def test_a_size_that_cannot_be_built_is_named(arch, size, message):
    with pytest.raises(ValueError, match=message):
        check_size(arch, size, (2, 16, 16))
    with pytest.raises(ValueError, match=message):
        build_model(arch, size, (2, 16, 16), 1)


def tiny_config():
    return yaml.safe_load(TINY.read_text())


@pytest.mark.parametrize(
    "change,message",
    [
        (
            {"experiments": {"vit": {"sizes": [{"patch": 5, "dim": 16, "depth": 1, "heads": 2}]}}},
            "experiments.vit.sizes: .*patch 5 does not divide",
        ),
        ({"experiments": {"vit": {"arch": "mlp"}}}, "experiments.vit.arch"),
        ({"experiments": {"resnet18": {"n_d": [16, 128]}}}, "N_D = 128 is larger than the training pool"),
        (
            {"schedules": {"plateau": {"kind": "plateau", "steps_per_sample": 1.0}}},
            "schedules.plateau: a plateau schedule does not take",
        ),
    ],
)
def test_a_study_that_cannot_be_trained_fails_at_config_time(change, message):
    with pytest.raises(study_config.ConfigError, match=message):
        study_config.validate(study_config.with_overrides(tiny_config(), change))


def members(count, width=8, depth=3, image=(2, 4, 4), n_out=2):
    nets = []
    for seed in range(count):
        torch.manual_seed(seed)
        nets.append(fcn(width, depth, image, n_out))
    return nets


def test_stacked_ensemble_computes_what_its_members_compute():
    nets = members(3)
    ensemble = FCNEnsemble(nets, CPU)
    x = torch.randn(3, 5, 2, 4, 4)
    expected = torch.stack([net(x[k]) for k, net in enumerate(nets)])
    torch.testing.assert_close(ensemble(x), expected)
    shared = torch.randn(7, 2, 4, 4)
    torch.testing.assert_close(ensemble.shared(shared), torch.stack([net(shared) for net in nets]))
    rebuilt = fcn(8, 3, (2, 4, 4), 2)
    rebuilt.load_state_dict(ensemble.member_state_dict(1))
    torch.testing.assert_close(rebuilt(shared), nets[1](shared))


@pytest.mark.parametrize("kind,weight_decay", [("adam", 0.0), ("adam", 0.01), ("adamw", 0.01)])
def test_member_adam_is_torch_adam_for_each_member(kind, weight_decay):
    """Three members with their own rates (one of them 0) move as three torch.optim runs."""
    rates = [1e-2, 3e-3, 0.0]
    nets = members(3)
    ensemble = FCNEnsemble(nets, CPU)
    optimizer = MemberAdam(ensemble, kind, weight_decay)
    optimizer.set_lr(rates)
    torch_optimizer = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
    references = [
        torch_optimizer(net.parameters(), lr=rate, weight_decay=weight_decay) for net, rate in zip(nets, rates)
    ]
    x, y = torch.randn(3, 6, 2, 4, 4), torch.randn(3, 6, 2)
    for _ in range(15):
        (ensemble(x) - y).square().mean(dim=(1, 2)).sum().backward()
        optimizer.step()
        for k, (net, reference) in enumerate(zip(nets, references)):
            if rates[k] == 0:
                continue
            reference.zero_grad()
            (net(x[k]) - y[k]).square().mean().backward()
            reference.step()
    for k, net in enumerate(nets):
        for name, value in ensemble.member_state_dict(k).items():
            torch.testing.assert_close(value, net.state_dict()[name], rtol=1e-5, atol=1e-6)
    initial = members(3)[2].state_dict()
    assert all(torch.equal(value, initial[name]) for name, value in ensemble.member_state_dict(2).items())


def test_single_model_group_wraps_any_module():
    torch.manual_seed(0)
    net = build_model("resnet18", {"width": 4}, (2, 16, 16), 1)
    group = SingleModel(net, CPU)
    x = torch.randn(1, 4, 2, 16, 16)
    group.train(False)
    torch.testing.assert_close(group(x)[0], net.eval()(x[0]))
    assert set(group.member_state_dict(0)) == set(net.state_dict())
