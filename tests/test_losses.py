import pytest
import torch

from mosaicgan.losses.adversarial import GAN_MODES, discriminator_loss, generator_loss, gradient_penalty


@pytest.mark.parametrize("mode", GAN_MODES)
def test_losses_reward_the_right_side(mode):
    # 1 and 0 sit on the right side of every mode (lsgan targets are exactly 1 and 0).
    confident_real, confident_fake = torch.ones(2, 1, 4, 4), torch.zeros(2, 1, 4, 4)
    good_real, good_fake = discriminator_loss(confident_real, confident_fake, mode=mode)
    bad_real, bad_fake = discriminator_loss(confident_fake, confident_real, mode=mode)
    assert good_real < bad_real and good_fake < bad_fake
    # G is happier when D calls its fakes real.
    assert generator_loss(confident_real, mode=mode) < generator_loss(confident_fake, mode=mode)


def test_known_values():
    zero = torch.zeros(1, 1, 2, 2)
    real, fake = discriminator_loss(zero, zero, mode="vanilla")
    assert torch.isclose(real, torch.log(torch.tensor(2.0))) and torch.isclose(fake, real)
    real, fake = discriminator_loss(zero, zero, mode="lsgan")
    assert real.item() == 1.0 and fake.item() == 0.0
    real, fake = discriminator_loss(zero, zero, mode="hinge")
    assert real.item() == 1.0 and fake.item() == 1.0


def test_gradient_penalty_of_a_unit_slope_critic_is_zero():
    # D(x) = sum(x * w) with ||w|| = 1 has gradient norm 1 everywhere.
    w = torch.randn(1, 3, 4, 4)
    w = w / w.norm()
    disc = lambda x: (x * w).flatten(1).sum(1)  # noqa: E731
    gp = gradient_penalty(disc, torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4))
    assert gp.item() < 1e-10
