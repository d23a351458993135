"""PyTorch twins of hourglass's benchmark autoencoders, timed like `crates/train/benches/throughput.rs`.

Run by `cargo xtask bench` with the interpreter of `target/libtorch` (the torch that the `tch`
backend links). Prints one JSON object per line: the machine's fp32 GEMM rate, then for each
model and batch size the training samples/s (random inputs, MSE, Adam with eps 1e-8, the loss
read back every step as hourglass does) and the FLOPs of one training step per sample.
"""

import argparse
import json
import time
import warnings

# The venv holds torch alone; numpy is not needed here.
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402


def mlp():
    """784-256-64-256-784, ReLU, linear code, sigmoid output (hourglass's MLP autoencoder)."""
    return nn.Sequential(
        nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 64),
        nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid(),
    )


def conv():
    """Two stride-2 3x3 convolutions (32, 64 channels), dense 3136-256-32 and back, as
    hourglass's conv autoencoder with `channels = [32, 64]`, `hidden = [256]`, `latent = 32`."""
    return nn.Sequential(
        nn.Unflatten(1, (1, 28, 28)),
        nn.Conv2d(1, 32, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(3136, 256), nn.ReLU(), nn.Linear(256, 32),
        nn.Linear(32, 256), nn.ReLU(), nn.Linear(256, 3136), nn.ReLU(),
        nn.Unflatten(1, (64, 7, 7)),
        nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
        nn.ConvTranspose2d(32, 1, 3, stride=2, padding=1, output_padding=1),
        nn.Flatten(), nn.Sigmoid(),
    )


def training_step(model, optimizer, batch):
    optimizer.zero_grad(set_to_none=True)
    loss = nn.functional.mse_loss(model(batch), batch)
    loss.backward()
    optimizer.step()
    return loss.item()


def flops_per_sample(make, batch_size):
    model = make()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
    counter = FlopCounterMode(display=False)
    with counter:
        training_step(model, optimizer, torch.rand(batch_size, 784))
    return counter.get_total_flops() / batch_size


def samples_per_second(make, batch_size, seconds, repetitions):
    torch.manual_seed(0)
    model = make()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
    batches = [torch.rand(batch_size, 784) for _ in range(8)]
    started = time.perf_counter()
    steps = 0
    while steps < 5 or time.perf_counter() - started < 0.3:
        training_step(model, optimizer, batches[steps % 8])
        steps += 1
    per_repetition = max(3, int(seconds * steps / (time.perf_counter() - started)))
    rates = []
    for _ in range(repetitions):
        started = time.perf_counter()
        for step in range(per_repetition):
            training_step(model, optimizer, batches[step % 8])
        rates.append(per_repetition * batch_size / (time.perf_counter() - started))
    rates.sort()
    return rates[len(rates) // 2]


def gemm_gflops(size=2048, repetitions=10):
    a, b = torch.rand(size, size), torch.rand(size, size)
    torch.mm(a, b)
    best = 0.0
    for _ in range(repetitions):
        started = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * size**3 / (time.perf_counter() - started) / 1e9)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--batches", default="64,128,256")
    parser.add_argument("--seconds", type=float, default=0.5, help="per repetition")
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(json.dumps({"gemm_gflops": gemm_gflops(), "threads": args.threads,
                      "torch": torch.__version__}), flush=True)
    for name, make in [("mlp", mlp), ("conv", conv)]:
        for batch_size in map(int, args.batches.split(",")):
            print(json.dumps({
                "backend": "pytorch", "model": name, "batch": batch_size,
                "samples_per_s": samples_per_second(make, batch_size, args.seconds,
                                                    args.repetitions),
                "flops_per_sample": flops_per_sample(make, batch_size),
            }), flush=True)


if __name__ == "__main__":
    main()
