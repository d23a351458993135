"""PyOD's detectors on the splits hourglass's `detectors` bench wrote, for `cargo xtask bench`.

Reads `train.csv` (normal training examples) and `test.csv` (with the `anomaly` column) from
each folder given (`--split DIR COMPONENTS`), fits PyOD's IForest (100 trees, 256 samples, the mean AUROC over
random_state 0-9), KNN (n_neighbors=5, method="largest") and PCA on the training rows, and
prints one JSON object per detector with the AUROC of its test scores (scikit-learn's
roc_auc_score).

PyOD's PCA scores a row by its distances to the components weighted by their explained
variance, not by reconstruction error; hourglass's detector is the residual of a k-component
PCA. The line for "pca" is that residual, computed from the scikit-learn PCA PyOD fitted
(`detector_`, n_components=k, standardization off: the rows are standardised already); the
line for "pca_pyod_score" is PyOD's own score with its defaults, for information.
"""

import argparse
import json
import sys

import numpy as np
import pyod
from pyod.models.iforest import IForest
from pyod.models.knn import KNN
from pyod.models.pca import PCA
from sklearn.metrics import roc_auc_score


def read(path):
    with open(path) as f:
        header = f.readline().strip().split(",")
    values = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    if header[-1] == "anomaly":
        return values[:, :-1], values[:, -1].astype(bool)
    return values, None


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", nargs=2, metavar=("DIR", "COMPONENTS"), action="append",
                        required=True, help="a folder of train.csv and test.csv, and the "
                        "components of the PCA to fit on it")
    args = parser.parse_args()
    for directory, k in args.split:
        k = int(k)
        train, _ = read(f"{directory}/train.csv")
        test, anomalous = read(f"{directory}/test.csv")
        dataset = directory.rstrip("/").split("/")[-1]

        def emit(detector, auroc):
            print(json.dumps({"dataset": dataset, "detector": detector, "auroc": auroc,
                              "pyod": pyod.__version__}))

        forests = [
            roc_auc_score(anomalous,
                          IForest(n_estimators=100, max_samples="auto", random_state=seed)
                          .fit(train).decision_function(test))
            for seed in range(10)
        ]
        pca = PCA(n_components=k, standardization=False).fit(train)
        projected = pca.detector_.inverse_transform(pca.detector_.transform(test))
        emit("pca", roc_auc_score(anomalous, ((test - projected) ** 2).sum(axis=1)))
        emit("iforest", float(np.mean(forests)))
        emit("knn", roc_auc_score(anomalous, KNN(n_neighbors=5, method="largest")
                                  .fit(train).decision_function(test)))
        emit("pca_pyod_score", roc_auc_score(anomalous, PCA().fit(train).decision_function(test)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
