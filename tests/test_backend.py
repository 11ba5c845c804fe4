"""The backend switch: CPU without a GPU, errors that say what is missing, and no CuPy import on the way in."""
import os
import subprocess
import sys

import numpy as np
import pytest

from tinyalstm import backend


def test_import_does_not_import_cupy():
    code = "import sys, tinyalstm; print('cupy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "TINYALSTM_DEVICE": ""})
    assert out.stdout.strip() == "False"


def test_unknown_device_is_an_error():
    with pytest.raises(ValueError, match=r"device: expected one of \('cpu', 'cuda'\), got 'tpu'"):
        backend.set_device("tpu")


@pytest.mark.skipif(backend.cupy_or_none() is not None, reason="a GPU is present")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError, match="--device cuda: CuPy is not installed or sees no GPU"):
        backend.set_device("cuda")


def test_environment_variable_selects_the_device():
    code = "import tinyalstm; print(tinyalstm.get_device())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "TINYALSTM_DEVICE": "cpu"})
    assert out.stdout.strip() == "cpu"


def test_array_module_follows_the_array():
    assert backend.array_module(np.zeros(2)) is np
    assert backend.array_module([1, 2]) is np
    assert isinstance(backend.to_numpy(np.ones(2)), np.ndarray)
