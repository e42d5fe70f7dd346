#!/usr/bin/env bash
# Installs the datasets the notebooks use, where this machine allows it. Never commits them.
#   Fashion-MNIST (MIT licence): the Debian/Ubuntu package `dataset-fashion-mnist` puts the IDX .gz files in
#   /usr/share/datasets/fashion-mnist/, which the library's loader looks in (see datasets/README.md for the others).
set -euo pipefail
fmnist=/usr/share/datasets/fashion-mnist
if [ -f "$fmnist/train-images-idx3-ubyte.gz" ]; then
  echo "datasets: Fashion-MNIST found in $fmnist"
  exit 0
fi
sudo=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && sudo="sudo"
if command -v apt-get >/dev/null; then
  $sudo apt-get update -qq && $sudo apt-get install -y -qq dataset-fashion-mnist \
    && { echo "datasets: installed Fashion-MNIST into $fmnist"; exit 0; }
fi
echo "datasets: could not install Fashion-MNIST here; see datasets/README.md for the other ways to provide it." >&2
exit 0   # notebooks that need it say so clearly; the build and tests do not depend on it
