"""tinyalstm: attention LSTMs for video action recognition with hand-written forward and backward passes.

The top-level folders ``kernels/`` and ``reference/`` install as ``tinyalstm.kernels`` and
``tinyalstm.reference`` (package_dir below), so no generic top-level ``kernels`` or ``reference`` module lands in
site-packages.
"""
from setuptools import setup

KERNEL_COMPILER = ["numba-cuda[cu12]>=0.30.4,<0.31", "nvidia-cuda-nvdisasm>=12.4"]
GPU_CUDA12 = ["cupy-cuda12x>=13", "numba-cuda[cu12]>=0.30.4,<0.31"]
# Dask's distributed scheduler runs the data pipeline's per-video passes on a cluster (--scheduler, data/cluster.py);
# 2023.4.1 is the oldest release the tests have passed on.
CLUSTER = ["dask[distributed]>=2023.4.1"]

setup(
    name="tinyalstm",
    version="0.1.0",
    description="Attention LSTMs (aLSTM, VideoLSTM) for action recognition, hand-written forward/backward passes",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=["tinyalstm", "tinyalstm.layers", "tinyalstm.models", "tinyalstm.data", "tinyalstm.data.synthetic",
              "tinyalstm.localization", "tinyalstm.fused", "tinyalstm.run", "tinyalstm.experiment",
              "tinyalstm.perf", "tinyalstm.kernels", "tinyalstm.reference"],
    package_dir={"tinyalstm": "tinyalstm", "tinyalstm.kernels": "kernels", "tinyalstm.reference": "reference"},
    install_requires=["numpy>=1.23", "numba>=0.57", "pillow>=9", "imageio-ffmpeg>=0.4.8",
                      "matplotlib>=3.5",   # the training CLI's curves and attention overlays (plots.py)
                      "scipy>=1.8",        # Gaussian filter and connected components of eq. 16 (localization)
                      "tqdm>=4.60"],       # progress bars with an ETA on a terminal (run/progress.py)
    extras_require={
        # A GPU needs CuPy and NVIDIA's numba-cuda (the CUDA target of Numba, with NVVM and the CUDA runtime from
        # wheels), for the CUDA major version of the driver (nvidia-smi, top right): 'gpu' / 'gpu-cuda12' for
        # CUDA 12.x, 'gpu-cuda13' for CUDA 13.x. numba-cuda is pinned to the minor version the launch path
        # (kernels/launch.py) was written against.
        "gpu": GPU_CUDA12,
        "gpu-cuda12": GPU_CUDA12,
        "gpu-cuda13": ["cupy-cuda13x>=13.6", "numba-cuda[cu13]>=0.30.4,<0.31"],
        # pytest + hypothesis for the suite; nbclient/nbformat/ipykernel execute the tutorials; matplotlib draws
        # their plots; numba-cuda, NVVM and ptxas (nvidia-cuda-nvcc-cu12) and nvdisasm compile every kernel for
        # sm_80 and sm_90 and read its SASS, with no GPU (tests/kernels/test_kernels_compile.py); Dask runs the
        # cluster tests on a local cluster (tests/data/test_cluster.py).
        "test": ["pytest>=7", "hypothesis>=6.80", "nbclient>=0.8", "nbformat>=5.7", "ipykernel>=6",
                 "matplotlib>=3.6"] + KERNEL_COMPILER + CLUSTER,
        "cluster": CLUSTER,
        "tutorials": ["jupyterlab>=4", "matplotlib>=3.6"],
        # python -m tinyalstm.extract: torchvision's pretrained VGG-16 and R3D-18 as the papers' feature extractors,
        # imported only when it runs (data/pretrained.py). torch 2.1 (torchvision 0.16) for load_state_dict(assign).
        "features": ["torch>=2.1", "torchvision>=0.16"],
    },
)
