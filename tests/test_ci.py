"""The one-call GPU check cannot run here (no GPU): it is read and syntax-checked, and what it calls exists."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GPU = ROOT / ".ci" / "gpu"


def test_the_gpu_check_is_valid_bash_and_its_python_compiles():
    assert subprocess.run(["bash", "-n", str(GPU)], capture_output=True).returncode == 0
    text = GPU.read_text()
    blocks = re.findall(r"<<'EOF'[^\n]*\n(.*?)\nEOF", text, re.S)
    assert len(blocks) == 2
    for block in blocks:
        compile(block, str(GPU), "exec")


def test_what_the_gpu_check_calls_exists():
    import importlib
    text = GPU.read_text()
    modules = set(re.findall(r"-m (tinyalstm[\w.]*)", text))
    assert {"tinyalstm.bench", "tinyalstm.train", "tinyalstm.perf.kernels", "tinyalstm.data.synthetic"} <= modules
    for name in modules:
        importlib.import_module(name)                 # imports without CuPy: the GPU is touched only when run
    out = subprocess.run([sys.executable, "-m", "tinyalstm.bench", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert "--config {paper,cpu,tiny,all}" in out.stdout
