#!/bin/bash
# Everything that needs a CUDA GPU, most important first, each part under its own time
# limit so that a short lease still brings back the first parts' results:
#   1. the tests that run only where a GPU is (CUDA tensors, CuPy arrays)       ~40 s
#   2. benchmarks/gpu.py --tf32: evaluations, the UFLDL protocol, the fast recipe ~35 s
#   3. benchmarks/minibatch_steps.py on the card: host work a step, then full size ~60 s
#   4. the best preset on the card (recipes_mnist.py --device cuda --verbose)    ~5 min
#   5. the ladder-100 preset on the card, its full 150 epochs (semi_supervised_mnist.py)
#
#   benchmarks/on_a_gpu.sh LOG_DIR [MNIST_DIR]
# Logs go to LOG_DIR (one file a part); the last lines of each are printed. Run it from
# the repository's root with stackae importable (installed, or PYTHONPATH=src).
# STACKAE_KERNELS=numpy skips compiling the host's Numba kernels, which no part times.
set -u
LOGS=${1:?usage: benchmarks/on_a_gpu.sh LOG_DIR [MNIST_DIR]}
MNIST=${2:-../shared/data/mnist}
mkdir -p "$LOGS"
export PYTHONUNBUFFERED=1 STACKAE_KERNELS=${STACKAE_KERNELS:-numpy}
part() {  # part NAME SECONDS COMMAND...
    local name=$1 limit=$2
    shift 2
    echo "== $name (at most $limit s)"
    timeout "$limit" "$@" > "$LOGS/$name.log" 2>&1
    echo "$name: exit $?"
    tail -n 12 "$LOGS/$name.log"
}
nvidia-smi > "$LOGS/nvidia-smi.log" 2>&1
# -W default: the card's machine has other versions of the libraries than CI, whose new
# warnings are shown rather than failing the tests (the suite's setting elsewhere)
part tests 120 python3 -m pytest -q -p no:cacheprovider -W default tests/test_array_api.py tests/test_devices.py
part gpu 200 python3 benchmarks/gpu.py --mnist "$MNIST" --tf32
part steps-host 60 python3 benchmarks/minibatch_steps.py --device cuda --mnist "$MNIST" --hidden 16 16 --features 16
part steps-full 90 python3 benchmarks/minibatch_steps.py --device cuda --mnist "$MNIST"
part best 420 python3 benchmarks/recipes_mnist.py --rows best --no-baseline --device cuda --verbose --mnist "$MNIST"
part ladder-100 500 python3 benchmarks/semi_supervised_mnist.py --labels 100 --methods ladder --device cuda --verbose 1 --mnist "$MNIST"
