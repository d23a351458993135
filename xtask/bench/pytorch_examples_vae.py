"""The VAE of pytorch/examples (`vae/main.py` at commit cd01f93), run on the MNIST files of
`datasets/mnist`, to measure the test loss that its README does not state.

As `vae/main.py`: 784-400-20 encoder with ReLU (fc1, fc21, fc22), 20-400-784 decoder with ReLU
and a sigmoid output (fc3, fc4), loss = BCE summed over pixels + KL, Adam at 1e-3, batch 128,
10 epochs, shuffled training batches, `torch.manual_seed(seed)`; the test loss is the summed
loss over the 10,000 test digits divided by 10,000 (one sample of the code per digit), as its
`test()` prints it. The pixels are MNIST's grey levels scaled to [0, 1], as torchvision's
`ToTensor` gives them. Prints one JSON line per seed and one with the mean and spread.

Run with the interpreter of the libtorch venv (`cargo xtask setup-libtorch`):
    python xtask/bench/pytorch_examples_vae.py --seeds 1 2 3
"""

import argparse
import gzip
import json
import statistics
import struct
import warnings
from pathlib import Path

# The venv holds torch alone; numpy is not needed here.
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

MNIST = Path(__file__).resolve().parents[2] / "datasets" / "mnist"


def images(name):
    """The images of an IDX file as a float tensor [n, 784] in [0, 1]."""
    data = gzip.decompress((MNIST / name).read_bytes())
    magic, count, rows, columns = struct.unpack(">IIII", data[:16])
    assert magic == 2051, f"{name} is not an IDX image file"
    pixels = torch.frombuffer(bytearray(data[16:]), dtype=torch.uint8)
    return pixels.view(count, rows * columns).float() / 255.0


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def forward(self, x):
        h1 = F.relu(self.fc1(x))
        mu, logvar = self.fc21(h1), self.fc22(h1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def run(seed, train, test, epochs, batch_size):
    torch.manual_seed(seed)
    model = VAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        model.train()
        for batch in torch.randperm(len(train)).split(batch_size):
            data = train[batch]
            optimizer.zero_grad()
            recon, mu, logvar = model(data)
            loss = loss_function(recon, data, mu, logvar)
            loss.backward()
            optimizer.step()
    model.eval()
    total = 0.0
    with torch.no_grad():
        for data in test.split(batch_size):
            recon, mu, logvar = model(data)
            total += loss_function(recon, data, mu, logvar).item()
    return total / len(test)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    train = images("train-images.idx3-ubyte.gz")
    test = images("t10k-images.idx3-ubyte.gz")
    losses = []
    for seed in args.seeds:
        loss = run(seed, train, test, args.epochs, args.batch_size)
        losses.append(loss)
        print(json.dumps({"seed": seed, "test_loss_nats": round(loss, 3)}), flush=True)
    spread = statistics.stdev(losses) if len(losses) > 1 else 0.0
    print(json.dumps({
        "torch": torch.__version__,
        "epochs": args.epochs,
        "seeds": len(losses),
        "mean_test_loss_nats": round(statistics.mean(losses), 3),
        "std": round(spread, 3),
    }))


if __name__ == "__main__":
    main()
