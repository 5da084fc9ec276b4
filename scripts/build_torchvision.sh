#!/usr/bin/env bash
# Build a CPU torchvision wheel against the venv's CPU torch 2.13.0, once; cache it in build/wheels.
#
# Why: PyPI's torchvision wheels are CUDA builds; beside the CPU torch, `import torchvision`
# fails ("operator torchvision::nms does not exist") and open_clip imports torchvision. PyPI has
# no torchvision sdist and GitHub is unreachable here; Debian's archive serves the upstream
# source of 0.21.0 (trixie), checked against its sha256 from trixie's Sources index. The JPEG/PNG
# decoders are off so no system -dev packages are needed (open_clip loads images through PIL).
# Cost measured here: ~5 min on 2 idle cores, 46 MB in build/, a 1.2 MB wheel.
set -euo pipefail
PY_ARG=${1:?usage: build_torchvision.sh PYTHON}
PY="$(cd "$(dirname "$PY_ARG")" && pwd)/$(basename "$PY_ARG")"  # absolute, symlink kept (venv)
TV_VER=0.21.0
TV_SHA=0a4a967bbb7f9810f792cd0289a07fb98c8fb5d1303fae8b63e3a6b05d720058
URL=http://deb.debian.org/debian/pool/main/p/pytorch-vision/pytorch-vision_${TV_VER}.orig.tar.gz
ROOT=$(pwd)/build
if ls "$ROOT"/wheels/torchvision-${TV_VER}+cpu-*.whl >/dev/null 2>&1; then
  echo "torchvision ${TV_VER}+cpu: cached wheel in build/wheels"; exit 0
fi
echo "torchvision ${TV_VER}+cpu: building from source against the CPU torch (~5 min on 2 cores)"
mkdir -p "$ROOT/src" "$ROOT/wheels"
curl -fsSL --retry 3 -o "$ROOT/src/tv.tar.gz" "$URL"
echo "$TV_SHA  $ROOT/src/tv.tar.gz" | sha256sum -c --quiet -
rm -rf "$ROOT/src/vision-$TV_VER" && tar -xzf "$ROOT/src/tv.tar.gz" -C "$ROOT/src"
"$PY" -m pip install -q 'setuptools<81'   # torchvision 0.21's setup.py imports pkg_resources
cd "$ROOT/src/vision-$TV_VER"
FORCE_CUDA=0 TORCHVISION_USE_PNG=0 TORCHVISION_USE_JPEG=0 TORCHVISION_USE_WEBP=0 \
  TORCHVISION_USE_NVJPEG=0 TORCHVISION_USE_VIDEO_CODEC=0 TORCHVISION_USE_FFMPEG=0 \
  BUILD_VERSION=${TV_VER}+cpu MAX_JOBS=$(nproc) \
  "$PY" -m pip wheel -q --no-build-isolation --no-deps . -w "$ROOT/wheels"
rm -rf "$ROOT/src/vision-$TV_VER"
