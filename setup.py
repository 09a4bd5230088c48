import re

from setuptools import find_packages, setup

with open('README.md', encoding='utf-8') as f:
    long_description = f.read()
with open('mmdet_scalenet/__init__.py', encoding='utf-8') as f:
    version = re.search(r"^__version__ = '(.+)'$", f.read(), re.M).group(1)

setup(
    name='mmdet-scalenet',
    version=version,
    description='ScaleNet (data-driven neuron allocation for scale aggregation networks) as an MMDetection backbone',
    long_description=long_description,
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmdet_scalenet', 'mmdet_scalenet.*', 'scalenet_lab', 'scalenet_lab.*']),
    package_data={'mmdet_scalenet': ['structures/*.json']},
    python_requires='>=3.8',
    # torch and mmcv (with its compiled ops) are installed by tools/setup_env.sh: mmcv 2.1.0 must be built from
    # source against the installed torch, which pip cannot do from a dependency list.
    install_requires=['mmdet>=3.3.0,<3.4', 'mmengine>=0.10.7,<0.11', 'pycocotools'],
    license='Apache-2.0',
)
