"""Sample quality: FID (Heusel et al. 2017) and KID (Bińkowski et al. 2018) with the standard TF-Inception network.

    import unnoise.eval
    unnoise.eval.fid_stats("celeba:data/celeba", "celeba64.npz", image_size=64, n=2000)
    unnoise.eval.evaluate_images(images, "celeba64.npz")   # a trained run: unnoise.evaluate (evaluation.py)

The protocol (resize, normalisation, precision, network) is in docs/fid.md. FID depends on N:
compare numbers only at equal n and ref_n.
"""

from .features import extract_features
from .fid import feature_statistics, frechet_distance
from .images import evaluate_folder, evaluate_images, fid_stats
from .inception import PROTOCOL, InceptionFeatures, load_inception
from .kid import kernel_inception_distance
from .reference import ReferenceStatistics, load_reference

__all__ = [
    "evaluate_folder",
    "evaluate_images",
    "fid_stats",
    "extract_features",
    "feature_statistics",
    "frechet_distance",
    "PROTOCOL",
    "InceptionFeatures",
    "load_inception",
    "kernel_inception_distance",
    "ReferenceStatistics",
    "load_reference",
]
