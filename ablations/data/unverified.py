"""torchvision's CIFAR-10 and SVHN readers without their md5 checksums (``dataset.verify=false``).

torchvision compares every file with the md5 of the official release before reading it, so a
deliberate subset (a lab's own split, a smaller copy) is rejected. These subclasses only set the
checksums to ``None``: torchvision's ``check_integrity`` then checks that each file exists, and all
reading and parsing stay torchvision's own. MNIST's reader tests no checksum when reading, so it
has no variant here. Imported on first use by :mod:`ablations.data.vision`.
"""

from __future__ import annotations

from torchvision.datasets import CIFAR10, MNIST, SVHN

__all__ = ["CIFAR10Unverified", "SVHNUnverified", "READERS"]


class CIFAR10Unverified(CIFAR10):
    """torchvision's CIFAR-10 reader without its md5 checksums (each file must still exist)."""

    train_list = [[filename, None] for filename, _ in CIFAR10.train_list]
    test_list = [[filename, None] for filename, _ in CIFAR10.test_list]
    meta = {**CIFAR10.meta, "md5": None}


class SVHNUnverified(SVHN):
    """torchvision's SVHN reader without its md5 checksum (the ``.mat`` file must still exist)."""

    split_list = {split: [url, filename, None] for split, (url, filename, _) in SVHN.split_list.items()}


# name -> (reader that verifies, reader that does not)
READERS = {"mnist": (MNIST, MNIST), "cifar10": (CIFAR10, CIFAR10Unverified), "svhn": (SVHN, SVHNUnverified)}
