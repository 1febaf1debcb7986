"""rvit: the Recurrent Vision Transformer (Yang et al., CVPR 2022), rebuilt for teaching and study."""

__version__ = "0.1.0"
