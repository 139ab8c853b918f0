#!/usr/bin/env bash
# The checks that need a GPU, as one prepared run (a lent GPU machine's time is short):
#   bash benchmarks/device_check.sh DIR OUT [PYTHON]
# DIR: a build with executed cuda rows (e.g. `build --config cuda --target-mb 5 --validate all`);
# OUT: where the verdicts go. PYTHON (default python3) must import warp and this project's needs.
# 1. every executed cuda row of each split launched on the GPU against the outputs recorded on the
#    cpu (`run --device cuda --json`), summarised per family at a ladder of tolerances;
# 2. the suite's GPU tests (skipped on machines without one);
# 3. the same rows launched on this machine's cpu: the recorded outputs on another machine.
# A machine without Warp and without an index (a lent GPU machine) gets it from the wheel: 149 MB,
# so in parts (xz -9: warp/bin/warp.so 78 MB, warp-clang.so 19 MB, the rest less examples and tests
# 1.4 MB), unpacked into a folder put on PYTHONPATH; pyarrow, numpy and click are all `run` needs.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=$1 out=$2 py=${3:-python3}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
splits=$(ls "$dir/cuda" | sed -n 's/-[0-9]*\.parquet$//p' | sort -u)
$py -c "import warp as wp; wp.init(); print('warp', wp.__version__, wp.get_cuda_devices())" || exit 1
for device in cuda cpu; do
  for split in $splits; do
    t=$(date +%s)
    timeout 300 $py -m warp_ir_dataset.run "$dir" --config cuda --split "$split" --device $device --quiet --json "$out/${device}_$split.json" | grep -v '^  '
    echo "$device $split: $(( $(date +%s) - t )) s"
  done
  $py benchmarks/differential.py "$out"/${device}_*.json --markdown | tee "$out/${device}.md"
  if [ $device = cuda ]; then
    timeout 200 $py -m pytest -q -p no:randomly -p no:cacheprovider -n 0 tests/test_run.py tests/test_evaluate.py -k gpu -rs 2>&1 | tail -8
  fi
done
