"""tinyalstm: attention LSTMs for video action recognition with hand-written forward and backward passes.

The top-level folders ``kernels/`` and ``reference/`` install as ``tinyalstm.kernels`` and
``tinyalstm.reference`` (package_dir below), so no generic top-level ``kernels`` or ``reference`` module lands in
site-packages.
"""
from setuptools import setup

setup(
    name="tinyalstm",
    version="0.1.0",
    description="Attention LSTMs (aLSTM, VideoLSTM) for action recognition, hand-written forward/backward passes",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=["tinyalstm", "tinyalstm.layers", "tinyalstm.models", "tinyalstm.data", "tinyalstm.localization",
              "tinyalstm.perf", "tinyalstm.kernels", "tinyalstm.reference"],
    package_dir={"tinyalstm": "tinyalstm", "tinyalstm.kernels": "kernels", "tinyalstm.reference": "reference"},
    install_requires=["numpy>=1.23", "numba>=0.57", "pillow>=9", "imageio-ffmpeg>=0.4.8",
                      "matplotlib>=3.5",   # the training CLI's curves and attention overlays (plots.py)
                      "scipy>=1.8",        # Gaussian filter and connected components of eq. 16 (localization)
                      "tqdm>=4.60"],       # progress bars with an ETA on a terminal (progress.py)
    extras_require={
        # Pick the CuPy wheel that matches the CUDA major version of your driver (nvidia-smi, top right):
        # 'gpu' / 'gpu-cuda12' for CUDA 12.x, 'gpu-cuda13' for CUDA 13.x.
        "gpu": ["cupy-cuda12x>=13"],
        "gpu-cuda12": ["cupy-cuda12x>=13"],
        "gpu-cuda13": ["cupy-cuda13x>=13.6"],
        # pytest + hypothesis for the suite; nbclient/nbformat/ipykernel execute the tutorials; matplotlib draws
        # their plots.
        "test": ["pytest>=7", "hypothesis>=6.80", "nbclient>=0.8", "nbformat>=5.7", "ipykernel>=6",
                 "matplotlib>=3.6"],
        "tutorials": ["jupyterlab>=4", "matplotlib>=3.6"],
    },
)
