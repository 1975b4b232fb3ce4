#!/usr/bin/env bash
# Slurm batch template for a data-parallel cformer run: one task (rank) per GPU, or per CPU socket on a
# CPU-only cluster. Copy it, adjust the #SBATCH lines to your cluster, then
#
#     sbatch tools/slurm-train.sh recipes/<paper>/<recipe>.yaml [--set section.key=value ...]
#     RECIPE=recipes/x.yaml sbatch tools/slurm-train.sh          # the same, recipe from the environment
#
# Environment variables honoured (set them before sbatch; Slurm exports the submitting environment):
#   RECIPE          recipe path when no argument is given
#   CFORMER         the cformer binary (default: build/bin/cformer, relative to the submit directory)
#   CF_LAUNCHER     srun (default) or mpirun (Open MPI's mpirun reads the allocation from Slurm itself)
#   CF_SRUN_MPI     srun's --mpi plugin (default pmix; `srun --mpi=list` shows yours). Without a PMI
#                   plugin every task would be a separate world of 1: cformer detects that and stops.
#   CF_DIST_TIMEOUT seconds a collective may wait before the job is aborted (default 1800)
#   OMP_NUM_THREADS threads per rank (default: the task's CPUs, SLURM_CPUS_PER_TASK)
# See docs/distributed.md for what each rank does and how to size the job.
# Time limits and preemption: Slurm sends SIGUSR1 (--signal below) or SIGTERM; cformer ends the step, saves a
# checkpoint and exits with 75; this script then requeues the job, which resumes (--resume latest starts fresh
# when the run directory has no checkpoint yet). Give the same --run-dir to every submission of one run.

#SBATCH --job-name=cformer
#SBATCH --nodes=2                  # 2 nodes x 8 ranks = a world of 16
#SBATCH --ntasks-per-node=8        # one rank per GPU
#SBATCH --gpus-per-node=8          # CPU-only cluster: delete, and use one task per socket
#SBATCH --cpus-per-task=8          # data loading + OpenMP threads of each rank
#SBATCH --time=24:00:00
#SBATCH --output=%x-%j.out         # job-name-jobid.out; every rank's stderr lands here too
#SBATCH --exclusive
#SBATCH --signal=USR1@300          # 5 minutes before the time limit every rank gets SIGUSR1: cformer finishes
                                   # the step, writes a checkpoint and exits 75
#SBATCH --requeue                  # ... and the job is requeued (below); it continues with --resume latest

set -euo pipefail

if [ $# -ge 1 ] && [ "${1#--}" = "$1" ]; then
    RECIPE="$1"
    shift
fi
: "${RECIPE:?give the recipe as the first argument or in RECIPE}"
CFORMER="${CFORMER:-build/bin/cformer}"
CF_LAUNCHER="${CF_LAUNCHER:-srun}"
CF_SRUN_MPI="${CF_SRUN_MPI:-pmix}"
export CF_DIST_TIMEOUT="${CF_DIST_TIMEOUT:-1800}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}"
# Open MPI as root (containers) refuses to start without these; harmless otherwise.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

echo "cformer: job ${SLURM_JOB_ID:-?} on ${SLURM_JOB_NUM_NODES:-?} nodes (${SLURM_JOB_NODELIST:-?}):" \
     "${SLURM_NTASKS:-?} ranks, ${OMP_NUM_THREADS} threads each, recipe ${RECIPE}"

case "$CF_LAUNCHER" in
srun)
    # --kill-on-bad-exit: a rank that dies ends the whole step (the others would otherwise wait in a
    # collective until CF_DIST_TIMEOUT). Each rank picks its GPU from SLURM_LOCALID.
    srun --mpi="$CF_SRUN_MPI" --kill-on-bad-exit=1 --cpu-bind=cores \
        "$CFORMER" train "$RECIPE" --resume latest "$@"
    ;;
mpirun)
    # Open MPI's mpirun kills the job when a rank exits non-zero. -x forwards the variables to the ranks.
    mpirun --bind-to core --map-by "ppr:${SLURM_NTASKS_PER_NODE:-1}:node:PE=${SLURM_CPUS_PER_TASK:-1}" \
        -x OMP_NUM_THREADS -x CF_DIST_TIMEOUT \
        "$CFORMER" train "$RECIPE" --resume latest "$@"
    ;;
*)
    echo "CF_LAUNCHER must be srun or mpirun, not $CF_LAUNCHER" >&2
    exit 2
    ;;
esac &
# the launcher runs in the background so this shell can take Slurm's signal (B: is not used: the ranks get it)
wait $! || rc=$?
rc=${rc:-0}
if [ "$rc" = 75 ] && [ -n "${SLURM_JOB_ID:-}" ]; then
    echo "cformer: stopped by a signal after a checkpoint; requeueing job $SLURM_JOB_ID"
    scontrol requeue "$SLURM_JOB_ID"
fi
exit "$rc"
