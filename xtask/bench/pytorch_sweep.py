"""The sweep benchmark's PyTorch loop: the runs of `cargo xtask bench`'s sweep trained one after
the other as a researcher's script would, in one process with MNIST loaded once.

Each run: the MLP autoencoder of `pytorch_twin.py` (784-256-64-256-784), its own seed and
learning rate, Adam with eps 1e-8, one epoch over the first 90 % of MNIST's training images
in shuffled batches of 128, then the test MSE. Prints one JSON object: the runs, the wall
time in seconds (loading included), the seconds spent in training steps alone and each run's
test MSE.
"""

import argparse
import gzip
import json
import struct
import time
import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")

import torch  # noqa: E402
from torch import nn  # noqa: E402

from pytorch_twin import mlp, training_step  # noqa: E402


def idx_images(path):
    """The images of a gzipped IDX file as floats in [0, 1], one row per image."""
    with gzip.open(path, "rb") as file:
        _, count, rows, columns = struct.unpack(">IIII", file.read(16))
        pixels = torch.frombuffer(bytearray(file.read()), dtype=torch.uint8)
    return pixels.reshape(count, rows * columns).float() / 255.0


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mnist", required=True, help="folder of the MNIST IDX files")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--learning-rates", required=True, help="comma separated")
    parser.add_argument("--seeds", required=True, help="comma separated, one per rate")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    train = idx_images(f"{args.mnist}/train-images.idx3-ubyte.gz")
    train = train[: len(train) * 9 // 10]
    test = idx_images(f"{args.mnist}/t10k-images.idx3-ubyte.gz")
    test_mse = []
    step_seconds = 0.0
    rates = [float(rate) for rate in args.learning_rates.split(",")]
    seeds = [int(seed) for seed in args.seeds.split(",")]
    for rate, seed in zip(rates, seeds):
        torch.manual_seed(seed)
        model = mlp()
        optimizer = torch.optim.Adam(model.parameters(), lr=rate, eps=1e-8)
        stepping = time.perf_counter()
        for batch in torch.randperm(len(train)).split(128):
            training_step(model, optimizer, train[batch])
        step_seconds += time.perf_counter() - stepping
        with torch.no_grad():
            test_mse.append(nn.functional.mse_loss(model(test), test).item())
    print(json.dumps({"runs": len(rates), "seconds": time.perf_counter() - started,
                      "step_seconds": step_seconds, "test_mse": test_mse}), flush=True)


if __name__ == "__main__":
    main()
