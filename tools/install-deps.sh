#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages cformer builds and tests with, when they are missing.
# Used by both README commands and by CI. Set CF_SKIP_DEPS=1 to skip (e.g. on a non-Debian system with
# the libraries already installed).
set -euo pipefail
[ "${CF_SKIP_DEPS:-0}" = 1 ] && exit 0

packages=(
  build-essential cmake pkg-config
  libopenblas-openmp-dev   # GEMM; the OpenMP build so GEMM inside our parallel loops does not oversubscribe
  libfftw3-dev             # rfft/irfft
  libhdf5-dev              # checkpoints, NWB-style spike files
  libyaml-dev              # recipes
  zlib1g-dev
  libopenmpi-dev openmpi-bin   # data parallelism
  libpng-dev               # cformer plot, PNG image folders
  libjpeg-dev              # JPEG image folders (libjpeg-turbo)
  python3-numpy python3-h5py   # independent readers in the export and checkpoint tests
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: missing packages (${missing[*]}) and no apt-get; install them by hand or set CF_SKIP_DEPS=1" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
