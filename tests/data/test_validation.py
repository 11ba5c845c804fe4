"""The validation split: whole groups held out of the training videos, the same ones for every run."""
import pytest

from tinyalstm.data.validation import carve_validation, group_of


def _keys(groups=6, clips=3, classes=("Jump", "Run")):
    return [f"{c}/v_{c}_g{g:02d}_c{k:02d}" for c in classes for g in range(5, 5 + groups) for k in range(1, clips + 1)]


def test_group_of():
    assert group_of("Jump/v_Jump_g05_c02") == "g05"
    hmdb = "brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0"
    assert group_of(hmdb) == hmdb                          # no group in the name: the video is its own group


@pytest.mark.parametrize("fraction, held", [(0.33, 2), (0.1, 1), (0.5, 3), (0.99, 5)])
def test_whole_groups_are_held_out(fraction, held):
    keys = _keys()
    train, val = carve_validation(keys, fraction)
    assert sorted(train + val) == sorted(keys) and not set(train) & set(val)
    val_groups, train_groups = {group_of(k) for k in val}, {group_of(k) for k in train}
    assert len(val_groups) == held and not val_groups & train_groups       # no group on both sides
    assert len(val) == held * 3 * 2                                        # every clip of every class of a group
    assert train == [k for k in keys if k in set(train)]                   # input order kept


def test_the_same_groups_whatever_the_order():
    keys = _keys()
    _, val = carve_validation(keys, 0.33)
    _, val_reversed = carve_validation(keys[::-1], 0.33)
    assert sorted(val) == sorted(val_reversed)


def test_no_validation_and_bad_fractions():
    keys = _keys()
    assert carve_validation(keys, 0) == (keys, [])
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="validation fraction"):
            carve_validation(keys, bad)
    with pytest.raises(ValueError, match="at least 2"):
        carve_validation(_keys(groups=1), 0.5)


def test_samples_keyed_by_a_function():
    samples = [(k, i) for i, k in enumerate(_keys())]
    train, val = carve_validation(samples, 0.33, key=lambda s: s[0])
    assert len(train) + len(val) == len(samples)
    assert not {group_of(k) for k, _ in val} & {group_of(k) for k, _ in train}
