#!/usr/bin/env bash
# Installs the datasets the notebooks use, where this machine allows it. Never commits them.
#   Fashion-MNIST (MIT licence): the Debian/Ubuntu package `dataset-fashion-mnist` puts the IDX .gz files in
#   /usr/share/datasets/fashion-mnist/, which the library's loader looks in (see datasets/README.md for the others).
# Waits for the package manager's lock when another apt process holds it, and says what it did.
set -euo pipefail
fmnist=/usr/share/datasets/fashion-mnist
if [ -f "$fmnist/train-images-idx3-ubyte.gz" ]; then
  echo "datasets: Fashion-MNIST found in $fmnist"
  exit 0
fi
if bash "$(dirname "$0")/../build/apt-install.sh" dataset-fashion-mnist && [ -f "$fmnist/train-images-idx3-ubyte.gz" ]; then
  echo "datasets: installed Fashion-MNIST into $fmnist"
  exit 0
fi
echo "datasets: could not install Fashion-MNIST here; see datasets/README.md for the other ways to provide it." >&2
exit 0   # notebooks that need it say so clearly; the build and tests do not depend on it
