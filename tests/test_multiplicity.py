"""Holm and Benjamini-Hochberg adjustment, by hand (m = 4)."""
import numpy as np

from mut_eval.stats.multiplicity import benjamini_hochberg, holm


def test_holm_by_hand():
    # sorted p: .01 .02 .03 .04 -> 4*.01=.04, 3*.02=.06, 2*.03=.06, 1*.04=.04 -> cummax .04 .06 .06 .06
    np.testing.assert_allclose(holm([0.03, 0.01, 0.04, 0.02]), [0.06, 0.04, 0.06, 0.06])


def test_bh_by_hand():
    # sorted p: .01 .02 .03 .04 -> m p/j = .04 .04 .04 .04; from the top cummin -> all .04
    np.testing.assert_allclose(benjamini_hochberg([0.03, 0.01, 0.04, 0.02]), [0.04] * 4)
    # .01 .04 .045 .5 -> .04 .08 .06 .5 -> cummin from the top: .04 .06 .06 .5
    np.testing.assert_allclose(benjamini_hochberg([0.5, 0.045, 0.01, 0.04]), [0.5, 0.06, 0.04, 0.06])


def test_missing_p_values_stay_out_of_the_family():
    got = holm([0.01, np.nan, 0.02])
    assert np.isnan(got[1])
    np.testing.assert_allclose(got[[0, 2]], [0.02, 0.02])
    assert np.isnan(benjamini_hochberg([np.nan])).all()
