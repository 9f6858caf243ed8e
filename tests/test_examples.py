import json

import numpy as np
import pytest
from PIL import Image

from mosaicgan.cli import main
from mosaicgan.examples import get_example, list_examples
from mosaicgan.examples import inverse_cdf, mle_kl


# -- inverse-CDF sampling --------------------------------------------------------------------

def test_tabulated_cdf_matches_the_closed_form():
    x, p = inverse_cdf.density_grid(step=0.01)
    assert x[0] == -3 and x[-1] == 3 and len(x) == 601
    assert np.trapezoid(p, x) == pytest.approx(1.0)
    cdf = inverse_cdf.cdf_from_density(x, p)
    assert cdf[0] == 0 and cdf[-1] == 1 and np.all(np.diff(cdf) >= 0)
    assert np.max(np.abs(cdf - inverse_cdf.exact_cdf(x))) < 1e-4


def test_ks_p_value_matches_the_kolmogorov_table():
    # 1.358 and 1.628 are the textbook 5% and 1% critical values of sqrt(n) * D, large n.
    n = 1_000_000
    assert inverse_cdf.ks_pvalue(1.358 / np.sqrt(n), n) == pytest.approx(0.05, abs=0.002)
    assert inverse_cdf.ks_pvalue(1.628 / np.sqrt(n), n) == pytest.approx(0.01, abs=0.001)
    assert inverse_cdf.ks_pvalue(0.0, n) == 1.0


def test_inverse_cdf_samples_pass_ks_and_a_wrong_density_fails():
    rng = np.random.default_rng(0)
    samples = inverse_cdf.sample(10_000, rng=rng)
    assert samples.min() >= -3 and samples.max() <= 3
    d = inverse_cdf.ks_statistic(samples, inverse_cdf.exact_cdf)
    assert inverse_cdf.ks_pvalue(d, len(samples)) > 0.05
    # The same test has the power to reject: uniforms on [-3, 3] are not this density.
    uniform = rng.uniform(-3, 3, size=10_000)
    d_wrong = inverse_cdf.ks_statistic(uniform, inverse_cdf.exact_cdf)
    assert inverse_cdf.ks_pvalue(d_wrong, len(uniform)) < 1e-6


# -- maximum likelihood = minimum KL ---------------------------------------------------------

def test_gradient_ascent_reaches_the_closed_form_mle_while_kl_falls():
    data = mle_kl.sample_mixture(2000, rng=np.random.default_rng(1))
    mle_mean, mle_std = mle_kl.gaussian_mle(data)
    assert mle_std == pytest.approx(np.std(data))  # the 1/n estimate, not 1/(n-1)
    history = mle_kl.fit_gaussian(data, mean0=3.5, std0=3.0, lr=0.3, steps=100)
    assert abs(history["mean"][0] - mle_mean) > 3
    assert history["mean"][-1] == pytest.approx(mle_mean, abs=1e-3)
    assert history["std"][-1] == pytest.approx(mle_std, abs=1e-3)

    grid = np.linspace(-8, 8, 4001)
    log_p = mle_kl.mixture_log_density(grid)
    kl = np.array([mle_kl.kl_quadrature(log_p, mle_kl.gaussian_log_density(grid, m, s), grid)
                   for m, s in zip(history["mean"], history["std"])])
    loglik_gain = np.diff(history["loglik"])
    assert np.all(loglik_gain > -1e-12)  # small plain gradient steps never lower the likelihood
    rising = loglik_gain > 1e-4
    assert rising.sum() > 20 and np.all(np.diff(kl)[rising] < 0)
    assert kl[0] - kl[-1] > 1.0
    # The identity itself: loglik + KL stays near -H(P) (up to the sample's noise).
    entropy = -np.trapezoid(np.exp(log_p) * log_p, grid)
    assert np.ptp(history["loglik"] + kl) < 0.05
    assert np.mean(history["loglik"] + kl) == pytest.approx(-entropy, abs=0.05)


def test_kl_estimates_agree_and_vanish_for_q_equal_p():
    grid = np.linspace(-10, 10, 8001)
    log_p = mle_kl.gaussian_log_density(grid, 0.5, 1.2)
    assert mle_kl.kl_quadrature(log_p, log_p, grid) == pytest.approx(0.0, abs=1e-12)
    # Closed form for two Gaussians: log(s2/s1) + (s1^2 + (m1-m2)^2) / (2 s2^2) - 1/2.
    expected = np.log(2.0 / 1.2) + (1.2**2 + 0.5**2) / (2 * 2.0**2) - 0.5
    log_q = mle_kl.gaussian_log_density(grid, 0.0, 2.0)
    assert mle_kl.kl_quadrature(log_p, log_q, grid) == pytest.approx(expected, rel=1e-6)
    x = np.random.default_rng(2).normal(0.5, 1.2, size=200_000)
    mc = mle_kl.kl_monte_carlo(mle_kl.gaussian_log_density(x, 0.5, 1.2), mle_kl.gaussian_log_density(x, 0.0, 2.0))
    assert mc == pytest.approx(expected, abs=0.01)


# -- registry and CLI ------------------------------------------------------------------------

def test_cli_lists_every_example_name_first(capsys):
    assert main(["examples"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    names = [e.name for e in list_examples()]
    assert [line.split()[0] for line in lines] == names
    assert {"inverse-cdf", "mle-kl"} <= set(names)


def test_cli_run_writes_a_png_and_its_json(tmp_path, capsys):
    assert main(["examples", "inverse-cdf", "--out", str(tmp_path), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    png, js = tmp_path / "inverse-cdf.png", tmp_path / "inverse-cdf.json"
    assert f"wrote {png}" in out and f"wrote {js}" in out and "ks_p_value" in out
    with Image.open(png) as img:
        img.verify()
    with Image.open(png) as img:
        assert img.format == "PNG" and img.width > 800 and img.height > 200
        # A drawn figure, not a blank canvas.
        assert len(img.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 10
    data = json.loads(js.read_text())
    assert data["example"] == "inverse-cdf" and data["seed"] == 3
    assert sum(data["figures"]["hist_counts"]) == data["headline"]["n_samples"]
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("argv, needle", [
    (["examples", "no-such-example", "--out", "x"], "unknown example 'no-such-example'; choose one of: inverse-cdf"),
    (["examples", "mle-kl"], "give --out DIR"),
    (["examples", "--out", "x"], "--out needs an example NAME"),
])
def test_cli_user_errors_are_one_line_with_exit_2(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("mosaicgan: error: ") and needle in err
    assert err.count("\n") == 1


def test_unknown_name_lists_all_names():
    from mosaicgan.errors import UserError

    with pytest.raises(UserError) as info:
        get_example("nope")
    assert all(e.name in str(info.value) for e in list_examples())
