#!/usr/bin/env bash
# Every GPU figure the README still lacks, in one command sized for a short GPU lease (about
# 15 minutes of device time, start-up included; one command may run 10): training speed levers
# against the reference on CUDA, torch.compile apart, inference at 256x256, 1080p and 12 MP, and
# whether the data loader keeps up (with and without the decode cache).
#
# Before (once, on the machine that sends the working tree): a checkout of
# junyanz/pytorch-CycleGAN-and-pix2pix in .gpu/ref, which git ignores here:
#     echo /.gpu/ >> .git/info/exclude; mkdir -p .gpu; cp -r PATH/TO/CHECKOUT .gpu/ref
# Then, on the GPU machine, from the repository root (nothing is installed there: the code runs
# from src/ with that machine's own torch):
#     bash benchmarks/gpu_round.sh            # results in $OUT, or runs/gpu_round
#     bash benchmarks/gpu_round.sh --smoke    # the same steps on the CPU, pix2pix only, 2 minutes
#                                             # a part at most: checks the script, not the GPU
#
# Each part has its own time limit, so a slow one leaves the others their time; each benchmark
# prints a case's rows as soon as it is done, so a part cut short still keeps what it finished.
set -u
smoke=0
[ "${1:-}" = "--smoke" ] && smoke=1
out=${OUT:-runs/gpu_round}
mkdir -p "$out"
py=${PYTHON:-python3}
ref=${REF:-.gpu/ref}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

if [ $smoke = 1 ]; then
    device=cpu; size=(); train_cases=(--cases pix2pix:1); compile_cases=(--cases pix2pix:1)
    iters=(--rounds 1 --iters 1 --skip-memory --curve-steps 3); infer_sizes=(--sizes 256); limit=120
    loader=(--count 8 --size 512 384 --epochs 2 --log-every 4)
else
    device=cuda; size=(); train_cases=(); compile_cases=(--cases pix2pix:1 pix2pix:16)
    iters=(--rounds 3); infer_sizes=(--sizes 256 1080 12); limit=0; loader=()
fi
budget() { [ $limit -gt 0 ] && echo $limit || echo "$1"; }  # seconds for a part

{
    date -u
    git log -1 --format='commit %h %s' 2>/dev/null
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null
    $py -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
} > "$out/machine.txt" 2>&1

# 1. Training, every lever but torch.compile, each case beside the reference (about 3.5 min).
timeout "$(budget 200)" $py benchmarks/train_speed.py --devices $device --reference "$ref" --skip-compile \
    "${size[@]}" "${train_cases[@]}" "${iters[@]}" > "$out/train.txt" 2>&1
echo "train: exit $?" >> "$out/machine.txt"

# 2. torch.compile (and everything together) for pix2pix; the compile time is reported apart (about 2 min).
timeout "$(budget 120)" $py benchmarks/train_speed.py --devices $device --variants compile all "${size[@]}" \
    "${compile_cases[@]}" "${iters[@]}" --curve-steps 0 > "$out/train_compile.txt" 2>&1
echo "train_compile: exit $?" >> "$out/machine.txt"

# 2b. CUDA graphs (everything, compiled with mode reduce-overhead; a CUDA-only variant) for
# pix2pix batch 1, the case it is for; how many graphs torch declined is printed (about 1.5 min).
timeout "$(budget 90)" $py benchmarks/train_speed.py --devices $device --variants "CUDA graphs" "${size[@]}" \
    --cases pix2pix:1 "${iters[@]}" --curve-steps 0 > "$out/train_cudagraphs.txt" 2>&1
echo "train_cudagraphs: exit $?" >> "$out/machine.txt"

# 3. Inference of unet_256: whole image, tiles, bf16, fp16, batches (about 1.5 min).
timeout "$(budget 90)" $py benchmarks/infer_speed.py --devices $device "${infer_sizes[@]}" \
    --json "$out/infer.json" > "$out/infer.txt" 2>&1
echo "infer: exit $?" >> "$out/machine.txt"

# 4. The data loader: real pix2pix training on 200 made-up 1024-pixel JPEG pairs, batch 1, with
# the decode cache and without it (about 1 min).
timeout "$(budget 60)" $py benchmarks/loader_speed.py --device $device "${loader[@]}" > "$out/loader.txt" 2>&1
echo "loader: exit $?" >> "$out/machine.txt"
cat "$out/machine.txt"
