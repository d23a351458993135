"""Rebuilds a model that hourglass saved, in PyTorch, from its run folder.

A finished run keeps `model.safetensors` (the weights) and `model.json` (the model card: the
architecture, each tensor's name, shape and layout, the input standardisation). This module
needs torch alone:

    import hourglass_torch
    model = hourglass_torch.load("reports/quickstart/runs/0123456789ab")
    x = model.standardize(x)          # tabular data only; images are used as stored, in [0, 1]
    codes = model.encode(x)           # [batch, latent]; a VAE's mean; a VQ-VAE's entries,
                                      # [batch, latent * dim]
    indices = model.code_indices(x)   # a VQ-VAE's code: [batch, latent] entry indices
    reconstructions = model(x)        # [batch, features]

Inputs are flattened row-major: an image is `[channels * height * width]`.
"""

import json
import struct
from pathlib import Path

import torch
from torch import nn

CARD_FORMAT_VERSION = 1

_ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}

_DTYPES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    """The tensors of a safetensors file by name (the format: an 8-byte little-endian header
    length, a JSON header of dtype, shape and byte offsets, then the data)."""
    data = Path(path).read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    body = data[8 + length :]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        dtype = _DTYPES[entry["dtype"]]
        flat = torch.frombuffer(bytearray(body[start:end]), dtype=dtype)
        tensors[name] = flat.reshape(entry["shape"])
    return tensors


class _Weights:
    """The saved tensors, each handed out once: a tensor left over means the card and the
    rebuilt model disagree."""

    def __init__(self, tensors):
        self.tensors = dict(tensors)

    def take(self, name):
        return nn.Parameter(self.tensors.pop(name).float())

    def linear(self, prefix):
        # burn holds a linear weight as [in, out]; nn.Linear as [out, in].
        weight = self.take(f"{prefix}.weight")
        layer = nn.Linear(weight.shape[0], weight.shape[1])
        layer.weight = nn.Parameter(weight.detach().T.contiguous())
        layer.bias = self.take(f"{prefix}.bias")
        return layer

    def conv(self, prefix, transposed):
        # Convolution kernels are held as PyTorch holds them.
        weight = self.take(f"{prefix}.weight")
        if transposed:
            layer = nn.ConvTranspose2d(weight.shape[0], weight.shape[1], 3, stride=2, padding=1, output_padding=1)
        else:
            layer = nn.Conv2d(weight.shape[1], weight.shape[0], 3, stride=2, padding=1)
        layer.weight = weight
        layer.bias = self.take(f"{prefix}.bias")
        return layer


def _mlp(weights, prefix, layers, activation, activate_last):
    """`layers` linear layers with `activation` after each, the last one only if `activate_last`."""
    modules = []
    for i in range(layers):
        modules.append(weights.linear(f"{prefix}.layers.{i}"))
        if i + 1 < layers or activate_last:
            modules.append(_ACTIVATIONS[activation]())
    return modules


class HourglassAutoencoder(nn.Module):
    """An hourglass autoencoder: `encode` gives the code (a VAE's mean, a VQ-VAE's nearest
    codebook entries), `forward` the reconstruction of the code, as hourglass evaluates it."""

    def __init__(self, card, tensors):
        super().__init__()
        model = card["model"]
        self.card = card
        self.latent = model["latent"]
        self.variational = model["variational"]
        self.code_activation = _ACTIVATIONS[model["code_activation"]]()
        self.output_activation = _ACTIVATIONS[model["output"]]()
        weights = _Weights(tensors)
        self.codebook = None
        if model.get("codebook") is not None:
            self.codebook = weights.take("quantizer.codebook")  # [size, dim]
            # The moving averages are training state: a trained model does not use them.
            for state in ("quantizer.counts", "quantizer.sums"):
                weights.tensors.pop(state, None)
        activation, hidden = model["activation"], len(model["hidden"])
        channels = model["conv_channels"]
        if channels is None:
            self.encoder = nn.Sequential(*_mlp(weights, "encoder", hidden + 1, activation, False))
            self.decoder = nn.Sequential(*_mlp(weights, "decoder", hidden + 1, activation, False))
        else:
            c, h, w = model["input_shape"]
            scale = 2 ** len(channels)
            feature_map = (channels[-1], h // scale, w // scale)
            encoder = [nn.Unflatten(1, (c, h, w))]
            for i in range(len(channels)):
                encoder += [weights.conv(f"encoder.convs.{i}", False), _ACTIVATIONS[activation]()]
            encoder.append(nn.Flatten())
            encoder += _mlp(weights, "encoder.dense", hidden + 1, activation, False)
            decoder = _mlp(weights, "decoder.dense", hidden + 1, activation, True)
            decoder.append(nn.Unflatten(1, feature_map))
            for i in range(len(channels)):
                decoder.append(weights.conv(f"decoder.deconvs.{i}", True))
                if i + 1 < len(channels):
                    decoder.append(_ACTIVATIONS[activation]())
            decoder.append(nn.Flatten())
            self.encoder, self.decoder = nn.Sequential(*encoder), nn.Sequential(*decoder)
        if weights.tensors:
            raise ValueError(f"tensors the card's model does not use: {sorted(weights.tensors)}")
        statistics = card.get("standardization")
        self.mean = None if statistics is None else torch.tensor(statistics["mean"])
        self.std = None if statistics is None else torch.tensor(statistics["std"])

    def standardize(self, x):
        """`x` standardised as the model's training inputs were; unchanged for images."""
        return x if self.mean is None else (x - self.mean) / self.std

    def encode(self, x):
        encoded = self.encoder(x)
        if self.variational:
            return encoded[:, : self.latent]  # μ; log σ² follows
        if self.codebook is not None:
            return self.codebook[self.code_indices(x)].reshape(len(x), -1)
        return self.code_activation(encoded)

    def code_indices(self, x):
        """A VQ-VAE's code: the index of the nearest entry at each position, [batch, latent]."""
        outputs = self.encoder(x).reshape(len(x) * self.latent, -1)
        distances = (
            outputs.square().sum(1, keepdim=True)
            - 2 * outputs @ self.codebook.T
            + self.codebook.square().sum(1)
        )
        return distances.argmin(1).reshape(len(x), self.latent)

    def decode(self, code):
        return self.output_activation(self.decoder(code))

    def forward(self, x):
        return self.decode(self.encode(x))


def load(run_dir):
    """The model saved in the run folder `run_dir`, in evaluation mode."""
    run_dir = Path(run_dir)
    card = json.loads((run_dir / "model.json").read_text())
    if card["format_version"] > CARD_FORMAT_VERSION:
        raise ValueError(f"{run_dir / 'model.json'} is of a newer format ({card['format_version']})")
    model = HourglassAutoencoder(card, read_safetensors(run_dir / "model.safetensors"))
    return model.eval()


if __name__ == "__main__":
    import sys

    # `python hourglass_torch.py RUN_DIR IO_JSON`: reconstructs the inputs in IO_JSON
    # (`{"inputs": [[...]], "reconstructions": [[...]]}`, inputs as stored, before any
    # standardisation) and prints the largest difference from the reconstructions there.
    model = load(sys.argv[1])
    io = json.loads(Path(sys.argv[2]).read_text())
    with torch.no_grad():
        ours = model(model.standardize(torch.tensor(io["inputs"], dtype=torch.float32)))
    theirs = torch.tensor(io["reconstructions"], dtype=torch.float32)
    difference = (ours - theirs).abs().max().item()
    print(json.dumps({"max_abs_difference": difference, "examples": len(theirs)}))
