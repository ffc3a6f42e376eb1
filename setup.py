"""Which files go into the distribution. Metadata and dependencies are in setup.cfg.

The protocol files live once, at the top of the repository (`manifests/`), where people
read and edit them as data. An installed mepipe needs them too, so the wheel carries that
folder as `mepipe/manifests/` (declared here as the data package `mepipe.manifests`, which
setup.cfg cannot express next to `packages = find:`). `mepipe.protocols.manifests_dir`
looks there first and falls back to the checkout's folder, so an editable install and a
plain checkout keep reading `manifests/` itself: there is no second copy to keep in step.
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["mepipe", "mepipe.*", "mepipe_train", "mepipe_train.*"]),
        "mepipe.manifests",
        "mepipe.manifests.schemes",
    ],
    package_dir={"mepipe.manifests": "manifests"},
    package_data={"mepipe.manifests": ["*.toml"], "mepipe.manifests.schemes": ["*.toml"]},
)
